"""The scheduler's steps: unlock due phases, assign content, expire leases.

Each step works in batches, one transaction per batch, locking rows with SKIP LOCKED on
PostgreSQL: two ticks running at once split the work instead of doing it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef

from warmup.models import ACTIVE_STATUSES, ContentItem, PhaseStatus, WarmupPhase
from warmup.services.phases import expire_lease
from warmup.state import apply_transition

S = PhaseStatus


def _batch_size() -> int:
    return settings.WARMUP_TICK_BATCH_SIZE


def _locked_batch(qs, *, after_id: int, size: int) -> list[WarmupPhase]:
    return list(
        qs.filter(pk__gt=after_id)
        .order_by("pk")
        .select_for_update(skip_locked=True, of=("self",))[:size]
    )


def phases_unlock_due(*, now: datetime) -> int:
    """Make pending phases whose time has come available. Returns how many."""
    has_active = WarmupPhase.objects.filter(
        account_id=OuterRef("account_id"), status__in=ACTIVE_STATUSES
    )
    due = WarmupPhase.objects.filter(status=S.PENDING, available_at__lte=now).exclude(
        Exists(has_active)
    )
    unlocked, last_id, size = 0, 0, _batch_size()
    while True:
        with transaction.atomic():
            batch = _locked_batch(due, after_id=last_id, size=size)
            for phase in batch:
                apply_transition(phase, S.AVAILABLE, available_at=phase.available_at)
                unlocked += 1
        if len(batch) < size:
            return unlocked
        last_id = batch[-1].pk


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
    report, last_id, size = AssignReport(), 0, _batch_size()
    available = WarmupPhase.objects.filter(status=S.AVAILABLE).select_related("template")
    while True:
        with transaction.atomic():
            batch = _locked_batch(available, after_id=last_id, size=size)
            _lock_content_pool(batch)
            for phase in batch:
                content = None
                if phase.template.requires_content:
                    content = _least_used_content(phase.phase_type)
                    if content is None:
                        report.starved += 1
                        continue
                    ContentItem.objects.filter(pk=content.pk).update(times_used=F("times_used") + 1)
                apply_transition(phase, S.CONTENT_ASSIGNED, content=content, next_attempt_at=now)
                report.assigned += 1
        if len(batch) < size:
            return report
        last_id = batch[-1].pk


def leases_expire(*, now: datetime) -> int:
    """Turn every expired lease into a `lease_expired` failure (retry or review by policy)."""
    expired = WarmupPhase.objects.filter(
        status=S.IN_PROGRESS, lease_expires_at__lte=now
    ).select_related("template", "account", "bot")
    count, last_id, size = 0, 0, _batch_size()
    while True:
        with transaction.atomic():
            batch = _locked_batch(expired, after_id=last_id, size=size)
            for phase in batch:
                expire_lease(phase, now=now)
                count += 1
        if len(batch) < size:
            return count
        last_id = batch[-1].pk
