"""One scheduler tick: every step that moves phases without a bot or a reviewer."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import DatabaseError, connection
from django.utils import timezone

from config import metrics
from config.partitions import ensure_partitions
from warmup.services.breaker import breakers_advance
from warmup.services.checkpoints import checkpoints_write_due
from warmup.services.progression import leases_expire_due, phases_assign_content, phases_unlock_due
from warmup.services.review import reviews_escalate_due
from warmup.services.review_hours import review_hours_count_due

logger = logging.getLogger("warmup.scheduler")


@dataclass
class TickReport:
    expired: int = 0
    unlocked: int = 0
    assigned: int = 0
    starved: int = 0
    escalated: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self):
        return ", ".join(f"{key} {value}" for key, value in self.as_dict().items())


@metrics.TICK_DURATION.time()
def tick(*, now: datetime | None = None) -> TickReport:
    """Expire leases, unlock due phases, assign content, raise escalations, move the
    breakers whose cool-down ended (half open, or closed after their trial claims), sign a
    review log checkpoint when one is due (every REVIEW_LOG_CHECKPOINT_SECONDS, with the key),
    make the coming months' history partitions and count the review log's settled hours.

    Leases go first so a phase freed by expiry can be retried in the same tick's later steps.
    """
    now = now or timezone.now()
    report = TickReport()
    report.expired = leases_expire_due(now=now)
    report.unlocked = phases_unlock_due(now=now)
    assigned = phases_assign_content(now=now)
    report.assigned, report.starved = assigned.assigned, assigned.starved
    report.escalated = reviews_escalate_due(now=now)
    breakers_advance(now=now)
    # The coming months' history partitions, before a row needs one (one catalog read per
    # table when none is missing; PostgreSQL only).
    ensure_partitions(connection, now=now)
    # Last, each on its own: the review log's settled hours, counted once for the dashboard
    # (one query when none is due: once an hour, and a day at a time while the last 92 days
    # are filled in), and its checkpoint. One that fails (a statement timeout on a huge log)
    # is logged and tried again next tick, without failing the moves above or the other.
    for step, what in (
        (review_hours_count_due, "Counting the review log's hours"),
        (checkpoints_write_due, "Writing a review log checkpoint"),
    ):
        try:
            step(now=now)
        except DatabaseError:
            logger.exception("%s failed; the next tick tries again", what)
    return report
