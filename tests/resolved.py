"""Items resolved and what came of them, through the real services: the track record the
suggestions rank, and the items that came back which the queue marks."""

from __future__ import annotations

from tests.builders import fail, reload
from tests.history import bot_takes_it_again
from warmup.models import WarmupPhase
from warmup.services.bot_work import phase_complete
from warmup.services.resolutions import (
    batch_undo_in_batches,
    review_resolve,
    reviews_resolve_in_batches,
)

WORKED = "worked"  # a bot took it again and completed it
CAME_BACK = "came back"  # a bot took it again and it failed back to review
PENDING = "pending"  # a bot took it again and is still at it: no outcome yet


def resolve_then(
    phase, *, method: str, reason_code: str, then: str, bot, actor, reason: str | None = None
) -> WarmupPhase:
    """Resolve `phase` (in review) with `method` and `reason_code`, then let a bot take it
    again as `then` says. A phase that comes back fails as not retryable with `reason`, or
    with the category and reason that sent it to review before (the same signature)."""
    category, before = phase.last_failure_category, phase.last_failure_reason
    review_resolve(
        phase_id=phase.pk, method=method, reason_code=reason_code, note="by hand", actor=actor
    )
    # Taken again at once, even when pending: a phase left ready would be the next one any
    # factory's bot claims.
    claimed = bot_takes_it_again(phase, bot)
    if then == WORKED:
        phase_complete(phase_id=phase.pk, bot=bot, lease_token=claimed.lease_token)
    elif then == CAME_BACK:
        fail(claimed, bot, category, reason=reason or before, retryable=False)
    return reload(phase)


def resolved_then_undone(phase, *, method: str, actor, clock=None, apart=None) -> None:
    """Resolve `phase` (in review) with `method` in a batch, as the console's bulk actions
    do, then undo that batch: the phase is back in review. With `clock`, each step comes
    `apart` (a timedelta) after the one before; without, at the clock's moment."""
    if clock is not None:
        clock.shift(apart)
    done = reviews_resolve_in_batches(
        phase_ids=[phase.pk], method=method, reason_code="other", note="oops", actor=actor
    )
    if clock is not None:
        clock.shift(apart)
    undone = batch_undo_in_batches(undo=done.batch, note="wrong call", actor=actor)
    assert undone.changed == [phase.pk]
