"""Bulk resolution: many review items in batches, for an operator's incident ("the proxy pool
died at 3 am, 4,000 phases went to review").

Each batch is one transaction: the rows are locked with SKIP LOCKED on PostgreSQL (a row a bot
or a reviewer holds right now is reported as busy, never waited on), every row is checked by
the same rules as a single resolution (`reviews.services.resolution_refusal` and the
transitions table), and the allowed ones move in one UPDATE per starting status with their
ReviewLog rows in one INSERT, each naming the run's batch id. A batch is all or nothing, so an
interrupted run leaves nothing half-resolved, and a rerun selects what is still in review.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from config import metrics
from reviews import events
from reviews.models import RESOLUTION_ACTIONS, ReviewAction, ReviewLog
from reviews.permissions import can_resolve_reviews as can_resolve
from reviews.services import (
    RESOLUTIONS,
    refusal_reason,
    resolution_refusal,
    resolution_snapshot,
)
from reviews.validation import require_reason_code
from warmup.actors import Actor
from warmup.errors import (
    BATCH_ITEM_BUSY,
    BATCH_ITEM_MISSING,
    UNDO_ACTED_SINCE,
    UNDO_CLAIMED_SINCE,
    UNDO_IN_REVIEW,
    UNDO_MOVED_ON,
    UNDO_NEXT_BUSY,
    UNDO_NEXT_CLAIMED,
    UNDO_NEXT_MOVED_ON,
    UNDO_NOT_IN_BATCH,
    UNKNOWN_RESOLUTION,
    InvalidInput,
)
from warmup.models import PhaseAttempt, PhaseStatus, PhaseTemplate, WarmupPhase
from warmup.services.phases import unlock_next_phases
from warmup.state import back_to_review_many, leave_review_many, relock_many
from warmup.validation import require_note

S = PhaseStatus


@dataclass
class BatchResult:
    """What one batch did: the phases it changed, and why it left the others alone."""

    changed: list[int] = field(default_factory=list)
    unchanged: dict[int, str] = field(default_factory=dict)  # phase id -> why


# What a batch reads of each phase it locks: the checks of a resolution, the snapshot its log
# row keeps, the move itself and the unlock of the next phase. Reading only these (not the
# failure details, the lease, the whole template) halves the cost of a batch's biggest query.
LOCKED_FIELDS = (
    "id",
    "status",
    "order",
    "account_id",
    "template_id",
    "content_id",
    "review_required_since",
    "escalation_level",
    "retry_count",
    "review_assignee_id",
    "last_failure_category",
    "account__platform",
    "account__username",
    "account__status",
)


def _lock(phase_ids: list[int]) -> tuple[list[WarmupPhase], dict[int, str]]:
    """Lock the phases that exist and nobody else holds; say why the others are left out."""
    locked = list(
        WarmupPhase.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("account")
        # The plan steps (a handful) in one small query, not joined and built once per row.
        .prefetch_related(Prefetch("template", PhaseTemplate.objects.only("requires_content")))
        .only(*LOCKED_FIELDS)
        .filter(pk__in=phase_ids)
        .order_by("pk")
    )
    found = {phase.pk for phase in locked}
    left = [pk for pk in phase_ids if pk not in found]
    existing = set(WarmupPhase.objects.filter(pk__in=left).values_list("pk", flat=True))
    why = {pk: BATCH_ITEM_BUSY if pk in existing else BATCH_ITEM_MISSING for pk in left}
    return locked, why


def validate_resolution(*, method: str, reason_code: str, note: str) -> tuple[str, str]:
    """Check what a bulk run will write before it selects anything (InvalidInput if bad)."""
    if method not in RESOLUTIONS:
        raise InvalidInput(
            UNKNOWN_RESOLUTION.format(value=method, choices=", ".join(RESOLUTIONS)),
            field="action",
        )
    return require_reason_code(reason_code), require_note(note)


@transaction.atomic
def resolve_batch(
    *, phase_ids: list[int], method: str, reason_code: str, note: str, actor: Actor, batch
) -> BatchResult:
    """Resolve the phases of one batch with `method`, as `review_resolve` would one by one.

    Side effects: the phases move, one ReviewLog row each (with `batch`), and for complete
    and skip the accounts' next phases unlock."""
    reason_code, note = validate_resolution(method=method, reason_code=reason_code, note=note)
    rule = RESOLUTIONS[method]
    locked, unchanged = _lock(phase_ids)
    allowed = []
    for phase in locked:
        refusal = resolution_refusal(phase, method)
        if refusal is None:
            allowed.append(phase)
        else:
            unchanged[phase.pk] = refusal_reason(refusal)
    now = timezone.now()
    before = [{"phase": phase, **resolution_snapshot(phase, now=now)} for phase in allowed]
    if allowed:
        leave_review_many(allowed, rule.to_status, **rule.fields(now))
        events.resolved_many(
            [
                {
                    **fields,
                    "actor": actor,
                    "method": method,
                    "reason_code": reason_code,
                    "note": note,
                }
                for fields in before
            ],
            batch=batch,
        )
        if rule.to_status == S.COMPLETED:
            unlock_next_phases(allowed, now=now)
        waits = [fields["time_in_review"] for fields in before]
        transaction.on_commit(lambda: [metrics.observe_resolution(method, w) for w in waits])
    return BatchResult(changed=[phase.pk for phase in allowed], unchanged=unchanged)


# --- Undo ------------------------------------------------------------------------------------


def batch_resolutions(batch) -> list[int]:
    """The phases a batch resolved, oldest row first."""
    return list(
        ReviewLog.objects.filter(batch=batch, action__in=list(RESOLUTION_ACTIONS.values()))
        .order_by("created_at", "id")
        .values_list("phase_id", flat=True)
    )


@dataclass
class _Undo:
    """One phase an undo looks at: the resolution to undo, and (for a completion) the account's
    next phase, which the completion unlocked and the undo locks again."""

    phase: WarmupPhase
    resolution: ReviewLog
    following: WarmupPhase | None = None

    @property
    def watched(self) -> list[int]:
        return [self.phase.pk] + ([self.following.pk] if self.following else [])


def _next_phases(completed: list[WarmupPhase]) -> tuple[dict[int, WarmupPhase], set[int]]:
    """Each completed phase's next phase in its account's plan (locked, SKIP LOCKED), by the
    completed phase's id; and the ids of completed phases whose next phase someone holds."""
    orders = {phase.account_id: phase.order for phase in completed}
    next_ids: dict[int, int] = {}
    for pk, account_id, order in (
        WarmupPhase.objects.filter(account_id__in=list(orders))
        .order_by("account_id", "order")
        .values_list("pk", "account_id", "order")
    ):
        if order > orders[account_id]:
            next_ids.setdefault(account_id, pk)
    locked = {
        phase.pk: phase
        for phase in WarmupPhase.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            pk__in=list(next_ids.values())
        )
    }
    following, busy = {}, set()
    for phase in completed:
        next_id = next_ids.get(phase.account_id)
        if next_id is None:
            continue  # the plan's last phase
        if next_id in locked:
            following[phase.pk] = locked[next_id]
        else:
            busy.add(phase.pk)
    return following, busy


def _touched_since(undos: list[_Undo]) -> tuple[set[int], set[int]]:
    """Of the phases the undos watch: those a bot claimed after the resolution, and those on
    which a move was logged after it (a hold, another resolution, an earlier undo; notes and
    assignments are no moves)."""
    after = {pk: undo.resolution for undo in undos for pk in undo.watched}
    since = min((r.created_at for r in after.values()), default=timezone.now())
    claimed = {
        phase_id
        for phase_id, claimed_at in PhaseAttempt.objects.filter(
            phase_id__in=list(after), claimed_at__gte=since
        ).values_list("phase_id", "claimed_at")
        if claimed_at > after[phase_id].created_at
    }
    first_row = min((r.pk for r in after.values()), default=0)
    notes_only = [ReviewAction.COMMENTED, ReviewAction.ASSIGNED, ReviewAction.UNASSIGNED]
    moved = {
        phase_id
        for phase_id, row_id in ReviewLog.objects.filter(phase_id__in=list(after), pk__gt=first_row)
        .exclude(action__in=notes_only)
        .values_list("phase_id", "pk")
        if row_id > after[phase_id].pk
    }
    return claimed, moved


def _why_not(undo: _Undo, claimed: set[int], moved: set[int]) -> str | None:
    """Why the undo must leave this phase as it is, or None to put it back in review."""
    phase, following = undo.phase, undo.following
    if phase.pk in claimed:
        return UNDO_CLAIMED_SINCE
    if phase.status == S.REVIEW_REQUIRED:
        return UNDO_IN_REVIEW
    if phase.pk in moved:
        return UNDO_ACTED_SINCE
    if phase.status != undo.resolution.to_status and not (
        # A resume leaves the phase available; the scheduler gives it content next.
        (undo.resolution.to_status, phase.status) == (S.AVAILABLE, S.CONTENT_ASSIGNED)
    ):
        return UNDO_MOVED_ON.format(status=phase.get_status_display().lower())
    if following is None:
        return None
    if following.pk in claimed:
        return UNDO_NEXT_CLAIMED
    if following.status not in (S.PENDING, S.AVAILABLE, S.CONTENT_ASSIGNED):
        return UNDO_NEXT_MOVED_ON.format(status=following.get_status_display().lower())
    if following.pk in moved:
        return UNDO_NEXT_MOVED_ON.format(status="acted on since (see its review history)")
    return None


def _restored_fields(undos: list[_Undo]) -> dict[int, dict]:
    """What each phase had in review when the batch resolved it: its review clock, level,
    retry count, assignee (if they may still resolve) and content."""
    assignees = {undo.resolution.data.get("assignee") for undo in undos} - {None}
    still_reviewers = {
        user.pk for user in get_user_model().objects.filter(pk__in=assignees) if can_resolve(user)
    }
    restored = {}
    for undo in undos:
        row = undo.resolution
        assignee = row.data.get("assignee")
        restored[undo.phase.pk] = {
            "review_required_since": row.created_at - (row.time_in_review or timedelta(0)),
            "escalation_level": row.escalation_level,
            "retry_count": row.retry_count,
            "review_assignee_id": assignee if assignee in still_reviewers else None,
            "content_id": row.data.get("content", undo.phase.content_id),
        }
    return restored


@transaction.atomic
def undo_batch(
    *, undo: uuid.UUID, phase_ids: list[int], note: str, actor: Actor, batch
) -> BatchResult:
    """Put the phases that batch `undo` resolved back in review, where they are still where it
    left them: not claimed by a bot since, nor moved by anyone; for a completion, the account's
    next phase not claimed either. They get back the review clock, escalation level, retry
    count, assignee and content they had (their failure is still on them).

    Side effects: the phases move to review_required, the next phases that their completion
    unlocked back to pending; one ReviewLog row each (with `batch`, naming the undone batch)."""
    note = require_note(note)
    locked, unchanged = _lock(phase_ids)
    resolutions = {
        row.phase_id: row
        for row in ReviewLog.objects.filter(
            batch=undo,
            phase_id__in=[p.pk for p in locked],
            action__in=list(RESOLUTION_ACTIONS.values()),
        )
    }
    for phase in locked:
        if phase.pk not in resolutions:
            unchanged[phase.pk] = UNDO_NOT_IN_BATCH
    completed = [p for p in locked if p.pk in resolutions and p.status == S.COMPLETED]
    following, next_busy = _next_phases(completed)
    undos = []
    for phase in locked:
        if phase.pk in next_busy:
            unchanged[phase.pk] = UNDO_NEXT_BUSY
        elif phase.pk in resolutions:
            undos.append(_Undo(phase, resolutions[phase.pk], following.get(phase.pk)))
    claimed, moved = _touched_since(undos)
    back = []
    for item in undos:
        why = _why_not(item, claimed, moved)
        if why is None:
            back.append(item)
        else:
            unchanged[item.phase.pk] = why
    if back:
        relock = [item.following for item in back if item.following is not None]
        relock_many([phase for phase in relock if phase.status != S.PENDING])
        WarmupPhase.objects.filter(pk__in=[p.pk for p in relock], status=S.PENDING).update(
            available_at=None
        )
        from_status = {item.phase.pk: item.phase.status for item in back}
        back_to_review_many([item.phase for item in back], per_row=_restored_fields(back))
        events.resolutions_undone(
            [(item.phase, item.resolution, from_status[item.phase.pk]) for item in back],
            actor=actor,
            note=note,
            batch=batch,
        )
    return BatchResult(changed=[item.phase.pk for item in back], unchanged=unchanged)
