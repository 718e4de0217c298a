"""The status machine: the table of allowed moves and the one function that writes `status`.

Services lock the row, decide, and call `apply_transition`; nothing else assigns a phase's
status. The write is conditional on the status the caller saw (compare-and-set), so even on a
database without row locks (SQLite) two writers cannot both win.
"""

from __future__ import annotations

from django.utils import timezone

from warmup.errors import TRANSITION_NOT_ALLOWED, TRANSITION_RACED, InvalidTransition
from warmup.models import PhaseStatus, WarmupPhase

S = PhaseStatus

# (from, to) -> what the move is. The table of DESIGN.md, one row per allowed move.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.PENDING, S.AVAILABLE): "unlock",
    (S.AVAILABLE, S.CONTENT_ASSIGNED): "assign_content",
    (S.CONTENT_ASSIGNED, S.IN_PROGRESS): "claim",
    (S.IN_PROGRESS, S.COMPLETED): "complete",
    (S.IN_PROGRESS, S.CONTENT_ASSIGNED): "retry",
    (S.IN_PROGRESS, S.REVIEW_REQUIRED): "escalate_or_hold",
    (S.REVIEW_REQUIRED, S.AVAILABLE): "review_resume",
    (S.REVIEW_REQUIRED, S.CONTENT_ASSIGNED): "review_retry",
    (S.REVIEW_REQUIRED, S.COMPLETED): "review_complete",
    (S.AVAILABLE, S.REVIEW_REQUIRED): "hold",
    (S.CONTENT_ASSIGNED, S.REVIEW_REQUIRED): "hold",
}


def is_allowed(from_status: str, to_status: str) -> bool:
    return (from_status, to_status) in TRANSITIONS


def check_transition(phase: WarmupPhase, to_status: str) -> None:
    """Raise InvalidTransition unless `phase` may move to `to_status`."""
    if not is_allowed(phase.status, to_status):
        # Plain values: a PhaseStatus member would read "PhaseStatus.X" in the message.
        current, to_status = str(phase.status), str(to_status)
        raise InvalidTransition(
            TRANSITION_NOT_ALLOWED.format(current=current, target=to_status),
            current_status=current,
            target_status=to_status,
            phase_id=phase.pk,
        )


def apply_transition(phase: WarmupPhase, to_status: str, **fields) -> WarmupPhase:
    """Move `phase` to `to_status` and write `fields` with it, in the caller's transaction.

    The caller holds the row lock. Updates `phase` in place; raises InvalidTransition if the
    move is not in the table or the stored status is no longer the one `phase` carries.
    """
    check_transition(phase, to_status)
    fields.setdefault("updated_at", timezone.now())
    updated = WarmupPhase.objects.filter(pk=phase.pk, status=phase.status).update(
        status=to_status, **fields
    )
    if updated != 1:
        current = WarmupPhase.objects.filter(pk=phase.pk).values_list("status", flat=True).first()
        raise InvalidTransition(
            TRANSITION_RACED.format(current=current),
            current_status=current or "",
            target_status=to_status,
            phase_id=phase.pk,
        )
    for name, value in fields.items():
        setattr(phase, name, value)
    phase.status = str(to_status)
    return phase
