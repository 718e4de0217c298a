"""The scheduler's steps: unlock due phases, assign content, expire leases.

Each step works in batches, one transaction per batch, locking rows with SKIP LOCKED on
PostgreSQL: two ticks running at once split the work instead of doing it twice. A batch's work
runs in one savepoint; only when it fails does each of its rows get a savepoint of its own, so
one row that fails is logged and skipped, not fatal. Each step's query has a partial index of
its own, so a tick with nothing due costs a few index probes, whatever the fleet's size.
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q

from warmup.models import ACTIVE_STATUSES, ContentItem, PhaseStatus, WarmupPhase
from warmup.services.phases import expire_lease, expire_leases
from warmup.state import apply_transition_many, assign_content, unlock

S = PhaseStatus
logger = logging.getLogger("warmup.scheduler")


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


def _run_batch(queryset, batch, step, step_many, *, what: str) -> Counter:
    """Do a locked batch's work in one savepoint: `step_many(batch)` if the step has a
    set-based form, else `step(row)` for each row. If that fails, the batch's rows (read
    again: the failed attempt may have changed the instances) get one savepoint each, so one
    bad row is logged and left for the next tick while the others go through."""
    if not batch:
        return Counter()
    try:
        with transaction.atomic():
            if step_many is not None:
                return Counter(step_many(batch) or {})
            totals = Counter()
            for row in batch:
                totals.update(step(row) or {})
            return totals
    except Exception:
        logger.warning("%s failed for a batch; retrying its rows one by one", what)
    totals = Counter()
    for row in queryset.filter(pk__in=[row.pk for row in batch]).order_by("pk"):
        try:
            with transaction.atomic():
                totals.update(step(row) or {})
        except Exception:
            logger.exception("%s failed for phase %s; left for the next tick", what, row.pk)
    return totals


def process_in_batches(
    queryset,
    step: Callable[[WarmupPhase], Mapping[str, int] | None],
    *,
    what: str,
    prepare: Callable[[list[WarmupPhase]], None] | None = None,
    finish: Callable[[], None] | None = None,
    step_many: Callable[[list[WarmupPhase]], Mapping[str, int] | None] | None = None,
    order: tuple[str, ...] = ("pk",),
) -> Counter:
    """Lock the rows of `queryset` batch by batch in `order` (SKIP LOCKED, one transaction per
    batch) and do each batch's work (see `_run_batch`): a row whose step fails is logged and
    left for the next tick, since one bad row must not stop the scheduler for the whole fleet.
    `prepare(rows)` runs first in each batch's transaction, `finish()` last (to register what
    that batch's commit should set off). Returns the sum of the counts the steps returned."""
    totals, last, size = Counter(), None, _batch_size()
    while True:
        with transaction.atomic():
            batch = _locked_batch(queryset, after=last, order=order, size=size)
            if prepare is not None:
                prepare(batch)
            totals.update(_run_batch(queryset, batch, step, step_many, what=what))
            if finish is not None:
                finish()
        if len(batch) < size:
            return totals
        last = batch[-1]


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

    def unlock_many(phases):
        apply_transition_many(phases, S.AVAILABLE)
        return {"unlocked": len(phases)}

    # In available_at order, the order of phase_unlock_idx: ordered by id, PostgreSQL would
    # walk the whole table's primary key looking for due pending phases when there are none.
    return process_in_batches(
        due,
        unlock_one,
        step_many=unlock_many,
        what="Unlocking",
        order=("available_at", "pk"),
    )["unlocked"]


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


def _draw_content(phases: list[WarmupPhase]) -> tuple[dict[int, int | None], int]:
    """The content of each phase of a batch, drawn as one phase at a time would (the least
    used active item of its type, each draw counting as a use), with the items' use counts
    written in one UPDATE per distinct increment. Returns {phase id: content id or None} for
    the phases that can go ahead, and how many are starved. The caller holds the pool's locks
    (`_lock_content_pool`)."""
    types = {phase.phase_type for phase in phases if phase.template.requires_content}
    pools: dict[str, list[tuple[int, int]]] = {}
    for pk, phase_type, used in ContentItem.objects.filter(
        phase_type__in=types, is_active=True
    ).values_list("pk", "phase_type", "times_used"):
        pools.setdefault(phase_type, []).append((used, pk))
    for pool in pools.values():
        heapq.heapify(pool)
    chosen, draws, starved = {}, Counter(), 0
    for phase in phases:
        content_id = None
        if phase.template.requires_content:
            pool = pools.get(phase.phase_type)
            if not pool:
                starved += 1
                continue
            used, content_id = heapq.heappop(pool)
            heapq.heappush(pool, (used + 1, content_id))
            draws[content_id] += 1
        chosen[phase.pk] = content_id
    by_increment: dict[int, list[int]] = {}
    for content_id, count in draws.items():
        by_increment.setdefault(count, []).append(content_id)
    for count, ids in by_increment.items():
        ContentItem.objects.filter(pk__in=ids).update(times_used=F("times_used") + count)
    return chosen, starved


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

    def assign_many(phases):
        chosen, starved = _draw_content(phases)
        ready = [phase for phase in phases if phase.pk in chosen]
        apply_transition_many(
            ready,
            S.CONTENT_ASSIGNED,
            per_row={pk: {"content_id": content_id} for pk, content_id in chosen.items()},
            next_attempt_at=now,
        )
        return {"assigned": len(ready), "starved": starved}

    totals = process_in_batches(
        available,
        assign,
        step_many=assign_many,
        what="Assigning content",
        prepare=_lock_content_pool,
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

    def expire_many(phases):
        expire_leases(phases, now=now)
        return {"expired": len(phases)}

    return process_in_batches(expired, expire, step_many=expire_many, what="Expiring a lease")[
        "expired"
    ]
