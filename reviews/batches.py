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

from django.db import transaction
from django.utils import timezone

from config import metrics
from reviews import events
from reviews.models import RESOLUTION_ACTIONS, ReviewAction, ReviewLog
from reviews.services import RESOLUTIONS, refusal_reason, resolution_refusal
from reviews.validation import require_reason_code
from warmup.actors import Actor
from warmup.errors import (
    BATCH_ITEM_BUSY,
    BATCH_ITEM_MISSING,
    UNDO_ACTED_SINCE,
    UNDO_CLAIMED_SINCE,
    UNDO_COMPLETED,
    UNDO_IN_REVIEW,
    UNDO_MOVED_ON,
    UNDO_NOT_IN_BATCH,
    UNKNOWN_RESOLUTION,
    InvalidInput,
)
from warmup.models import PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.services.phases import unlock_next_phases
from warmup.state import apply_transition_many, leave_review_many
from warmup.validation import require_note

S = PhaseStatus


@dataclass
class BatchResult:
    """What one batch did: the phases it changed, and why it left the others alone."""

    changed: list[int] = field(default_factory=list)
    unchanged: dict[int, str] = field(default_factory=dict)  # phase id -> why


def _lock(phase_ids: list[int]) -> tuple[list[WarmupPhase], dict[int, str]]:
    """Lock the phases that exist and nobody else holds; say why the others are left out."""
    locked = list(
        WarmupPhase.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("template", "account")
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
    before = [
        {
            "phase": phase,
            "from_status": phase.status,
            "time_in_review": now - phase.review_required_since,
            "escalation_level": phase.escalation_level,
            "retry_count": phase.retry_count,
        }
        for phase in allowed
    ]
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


@transaction.atomic
def undo_batch(
    *, undo: uuid.UUID, phase_ids: list[int], note: str, actor: Actor, batch
) -> BatchResult:
    """Put the phases that batch `undo` resolved back in review, where they are still where it
    left them: resumed or retried and not claimed by a bot since. They get back the review
    clock, escalation level and retry count they had (their failure is still on them).

    Side effects: the phases move to review_required; one ReviewLog row each (with `batch`,
    naming the undone batch). Completed phases stay completed (their plan went on)."""
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
    since = min((r.created_at for r in resolutions.values()), default=timezone.now())
    claimed_since: dict[int, list] = {}
    for phase_id, claimed_at in PhaseAttempt.objects.filter(
        phase_id__in=list(resolutions), claimed_at__gte=since
    ).values_list("phase_id", "claimed_at"):
        claimed_since.setdefault(phase_id, []).append(claimed_at)
    # A move logged on the phase after the batch (a hold, another resolution, an earlier
    # undo): the batch's resolution is no longer the last word. Notes and assignments are not.
    first_row = min((r.pk for r in resolutions.values()), default=0)
    logged_since: dict[int, int] = {}
    moves_since = ReviewLog.objects.filter(phase_id__in=list(resolutions), pk__gt=first_row)
    notes_only = [ReviewAction.COMMENTED, ReviewAction.ASSIGNED, ReviewAction.UNASSIGNED]
    for phase_id, row_id in moves_since.exclude(action__in=notes_only).values_list(
        "phase_id", "pk"
    ):
        logged_since[phase_id] = max(row_id, logged_since.get(phase_id, 0))
    back = []
    for phase in locked:
        resolution = resolutions.get(phase.pk)
        if resolution is None:
            unchanged[phase.pk] = UNDO_NOT_IN_BATCH
            continue
        claims = [at for at in claimed_since.get(phase.pk, []) if at >= resolution.created_at]
        if resolution.to_status == S.COMPLETED:
            unchanged[phase.pk] = UNDO_COMPLETED
        elif claims:
            unchanged[phase.pk] = UNDO_CLAIMED_SINCE
        elif phase.status == S.REVIEW_REQUIRED:
            unchanged[phase.pk] = UNDO_IN_REVIEW
        elif logged_since.get(phase.pk, 0) > resolution.pk:
            unchanged[phase.pk] = UNDO_ACTED_SINCE
        elif phase.status not in (S.AVAILABLE, S.CONTENT_ASSIGNED):
            unchanged[phase.pk] = UNDO_MOVED_ON.format(status=phase.get_status_display().lower())
        else:
            back.append((phase, resolution, phase.status))
    if back:
        now = timezone.now()
        per_row = {
            phase.pk: {
                "review_required_since": resolution.created_at
                - (resolution.time_in_review or timedelta(0)),
                "escalation_level": resolution.escalation_level,
                "retry_count": resolution.retry_count,
            }
            for phase, resolution, _ in back
        }
        apply_transition_many(
            [phase for phase, _, _ in back],
            S.REVIEW_REQUIRED,
            per_row=per_row,
            next_attempt_at=None,
            updated_at=now,
        )
        events.resolutions_undone(back, actor=actor, note=note, batch=batch)
    return BatchResult(changed=[phase.pk for phase, _, _ in back], unchanged=unchanged)
