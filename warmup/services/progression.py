"""The scheduler's steps: unlock due phases, assign content, expire leases.

Each step is one set-based function over a list of phases, run batch by batch, one transaction
per batch, locking rows with SKIP LOCKED on PostgreSQL: two ticks running at once split the work
instead of doing it twice. A batch's work runs in one savepoint; only when it fails are its rows
retried one at a time through the same function (a list of one row, a savepoint each), so one
row that fails is logged and skipped, not fatal. Each step's query has a partial index of its
own, so a tick with nothing due costs a few index probes, whatever the fleet's size.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef, Q

from warmup.domain.errors import DomainError
from warmup.lifecycle.state import assign_contents, unlock_many
from warmup.models import ACTIVE_STATUSES, PhaseStatus, WarmupPhase
from warmup.services.bot_work import leases_expire
from warmup.services.content import content_draw, content_lock_pools

S = PhaseStatus
logger = logging.getLogger("warmup.scheduler")

# What a step's set-based function does: change its rows (the caller holds their locks) and
# say how many of each kind it changed.
Step = Callable[[list[WarmupPhase]], Mapping[str, int] | None]

# What makes a batch fall back to its rows one at a time: a row the database refuses, or a
# move the domain refuses (a row that changed meanwhile). Anything else is a bug and stops the
# tick, which the loop logs.
ROW_FAILURES = (DatabaseError, DomainError)


def _batch_size() -> int:
    return settings.WARMUP_TICK_BATCH_SIZE


def _locked_batch(qs, *, after: WarmupPhase | None, order: tuple[str, ...], size: int):
    """The next `size` rows of `qs` in `order` (ending with "pk") after the row `after`,
    locked, skipping rows another tick holds. The order matches a partial index of the step's
    query, so a tick with nothing due reads a few index entries, not the table."""
    if after is not None:
        *leading, _ = order
        later = Q(pk__gt=after.pk)
        for name in reversed(leading):
            value = getattr(after, name)
            later = Q(**{f"{name}__gt": value}) | (Q(**{name: value}) & later)
        qs = qs.filter(later)
    return list(qs.order_by(*order).select_for_update(skip_locked=True, of=("self",))[:size])


def _run_batch(queryset, batch: list[WarmupPhase], step: Step, *, what: str) -> Counter:
    """`step(batch)` in one savepoint. If that fails, the batch's rows (read again: the failed
    attempt may have changed the instances) go through `step` one at a time, a list of one
    row in a savepoint each, so one bad row is logged and left for the next tick while the
    others go through."""
    if not batch:
        return Counter()
    try:
        with transaction.atomic():
            return Counter(step(batch) or {})
    except ROW_FAILURES:
        logger.warning("%s failed for a batch; retrying its rows one by one", what)
    totals = Counter()
    for row in queryset.filter(pk__in=[row.pk for row in batch]).order_by("pk"):
        try:
            with transaction.atomic():
                totals.update(step([row]) or {})
        except ROW_FAILURES:
            logger.exception("%s failed for phase %s; left for the next tick", what, row.pk)
    return totals


def process_in_batches(
    queryset,
    step: Step,
    *,
    what: str,
    prepare: Callable[[list[WarmupPhase]], None] | None = None,
    finish: Callable[[], None] | None = None,
    order: tuple[str, ...] = ("pk",),
) -> Counter:
    """Lock the rows of `queryset` batch by batch in `order` (SKIP LOCKED, one transaction per
    batch) and give each batch to the set-based `step` (see `_run_batch`): a row whose step
    fails is logged and left for the next tick, since one bad row must not stop the scheduler
    for the whole fleet. `prepare(rows)` runs first in each batch's transaction, `finish()`
    last (to register what that batch's commit should set off). Returns the sum of the counts
    the step returned."""
    totals, last, size = Counter(), None, _batch_size()
    while True:
        with transaction.atomic():
            batch = _locked_batch(queryset, after=last, order=order, size=size)
            if prepare is not None:
                prepare(batch)
            totals.update(_run_batch(queryset, batch, step, what=what))
            if finish is not None:
                finish()
        if len(batch) < size:
            return totals
        last = batch[-1]


# --- Unlock ------------------------------------------------------------------------------


def _unlock(phases: list[WarmupPhase]) -> dict[str, int]:
    """Make due pending phases available (their time to unlock stays as it was)."""
    unlock_many(phases)
    return {"unlocked": len(phases)}


def phases_unlock_due(*, now: datetime) -> int:
    """Make pending phases whose time has come available. Returns how many."""
    has_active = WarmupPhase.objects.filter(
        account_id=OuterRef("account_id"), status__in=ACTIVE_STATUSES
    )
    due = WarmupPhase.objects.filter(status=S.PENDING, available_at__lte=now).exclude(
        Exists(has_active)
    )
    # In available_at order, the order of phase_unlock_idx: ordered by id, PostgreSQL would
    # walk the whole table's primary key looking for due pending phases when there are none.
    return process_in_batches(due, _unlock, what="Unlocking", order=("available_at", "pk"))[
        "unlocked"
    ]


# --- Assign content ----------------------------------------------------------------------


@dataclass
class AssignReport:
    assigned: int = 0
    starved: int = 0  # available phases whose type has no active content


def _assign(phases: list[WarmupPhase], *, now: datetime) -> dict[str, int]:
    """Give available phases their content (`content_draw`) and make them claimable from `now`;
    a phase whose type has no active content stays available and is counted starved."""
    chosen, starved = content_draw(phases)
    ready = [phase for phase in phases if phase.pk in chosen]
    assign_contents(ready, contents=chosen, now=now)
    return {"assigned": len(ready), "starved": starved}


def phases_assign_content(*, now: datetime) -> AssignReport:
    """Give each available phase its content (the least-used active item of its type) and make
    it claimable; a phase whose type has no content stays available and is counted starved."""
    available = WarmupPhase.objects.filter(status=S.AVAILABLE).select_related("template")
    totals = process_in_batches(
        available,
        partial(_assign, now=now),
        what="Assigning content",
        prepare=content_lock_pools,
    )
    return AssignReport(assigned=totals["assigned"], starved=totals["starved"])


# --- Expire leases -----------------------------------------------------------------------


def _expire(phases: list[WarmupPhase], *, now: datetime) -> dict[str, int]:
    """Turn the phases' expired leases into `lease_expired` failures."""
    leases_expire(phases, now=now)
    return {"expired": len(phases)}


def leases_expire_due(*, now: datetime) -> int:
    """Turn every expired lease into a `lease_expired` failure (retry or review by policy)."""
    expired = WarmupPhase.objects.filter(
        status=S.IN_PROGRESS, lease_expires_at__lte=now
    ).select_related("template", "account", "bot")
    return process_in_batches(expired, partial(_expire, now=now), what="Expiring a lease")[
        "expired"
    ]
