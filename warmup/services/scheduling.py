"""The scheduler's steps: unlock due phases, assign content, expire leases.

Each step works in batches, one transaction per batch, locking rows with SKIP LOCKED on
PostgreSQL: two ticks running at once split the work instead of doing it twice. Each row is
handled in its own savepoint, so one row that fails is logged and skipped, not fatal.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef

from warmup.models import ACTIVE_STATUSES, ContentItem, PhaseStatus, WarmupPhase
from warmup.services.phases import expire_lease
from warmup.state import assign_content, unlock

S = PhaseStatus
logger = logging.getLogger("warmup.scheduler")


def _batch_size() -> int:
    return settings.WARMUP_TICK_BATCH_SIZE


def _locked_batch(qs, *, after_id: int, size: int) -> list[WarmupPhase]:
    return list(
        qs.filter(pk__gt=after_id)
        .order_by("pk")
        .select_for_update(skip_locked=True, of=("self",))[:size]
    )


def process_in_batches(
    queryset,
    step: Callable[[WarmupPhase], Mapping[str, int] | None],
    *,
    what: str,
    prepare: Callable[[list[WarmupPhase]], None] | None = None,
    finish: Callable[[], None] | None = None,
) -> Counter:
    """Lock the rows of `queryset` batch by batch (SKIP LOCKED, one transaction per batch) and
    run `step(row)` on each in a savepoint. A row whose step fails is logged and left for the
    next tick: one bad row must not stop the scheduler for the whole fleet. `prepare(rows)`
    runs first in each batch's transaction, `finish()` last (to register what that batch's
    commit should set off). Returns the sum of the counts the steps returned."""
    totals, last_id, size = Counter(), 0, _batch_size()
    while True:
        with transaction.atomic():
            batch = _locked_batch(queryset, after_id=last_id, size=size)
            if prepare is not None:
                prepare(batch)
            for row in batch:
                try:
                    with transaction.atomic():
                        totals.update(step(row) or {})
                except Exception:
                    logger.exception("%s failed for phase %s; left for the next tick", what, row.pk)
            if finish is not None:
                finish()
        if len(batch) < size:
            return totals
        last_id = batch[-1].pk


def phases_unlock_due(*, now: datetime) -> int:
    """Make pending phases whose time has come available. Returns how many."""
    has_active = WarmupPhase.objects.filter(
        account_id=OuterRef("account_id"), status__in=ACTIVE_STATUSES
    )
    due = WarmupPhase.objects.filter(status=S.PENDING, available_at__lte=now).exclude(
        Exists(has_active)
    )

    def unlock_one(phase):
        unlock(phase, available_at=phase.available_at)
        return {"unlocked": 1}

    return process_in_batches(due, unlock_one, what="Unlocking")["unlocked"]


@dataclass
class AssignReport:
    assigned: int = 0
    starved: int = 0  # available phases whose type has no active content


def _least_used_content(phase_type: str) -> ContentItem | None:
    return (
        ContentItem.objects.filter(phase_type=phase_type, is_active=True)
        .order_by("times_used", "id")
        .first()
    )


def _lock_content_pool(batch: list[WarmupPhase]) -> None:
    """Lock the content rows the batch may draw from, in id order. Two ticks assigning at once
    would otherwise each hold one item's row and wait for the other's (a deadlock), and could
    both pick the same "least used" item from a stale count. NO KEY: claims that reference
    the content (PhaseAttempt.content) are not blocked."""
    types = {phase.phase_type for phase in batch if phase.template.requires_content}
    if types:
        list(
            ContentItem.objects.filter(phase_type__in=types, is_active=True)
            .order_by("id")
            .select_for_update(no_key=True)
            .values_list("id", flat=True)
        )


def phases_assign_content(*, now: datetime) -> AssignReport:
    """Give each available phase its content (the least-used active item of its type) and make
    it claimable; a phase whose type has no content stays available and is counted starved."""
    available = WarmupPhase.objects.filter(status=S.AVAILABLE).select_related("template")

    def assign(phase):
        content = None
        if phase.template.requires_content:
            content = _least_used_content(phase.phase_type)
            if content is None:
                return {"starved": 1}
            ContentItem.objects.filter(pk=content.pk).update(times_used=F("times_used") + 1)
        assign_content(phase, content=content, now=now)
        return {"assigned": 1}

    totals = process_in_batches(
        available, assign, what="Assigning content", prepare=_lock_content_pool
    )
    return AssignReport(assigned=totals["assigned"], starved=totals["starved"])


def leases_expire(*, now: datetime) -> int:
    """Turn every expired lease into a `lease_expired` failure (retry or review by policy)."""
    expired = WarmupPhase.objects.filter(
        status=S.IN_PROGRESS, lease_expires_at__lte=now
    ).select_related("template", "account", "bot")

    def expire(phase):
        expire_lease(phase, now=now)
        return {"expired": 1}

    return process_in_batches(expired, expire, what="Expiring a lease")["expired"]
