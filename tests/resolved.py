"""Items resolved and what came of them, through the real services: the track record the
suggestions rank, and the items that came back which the queue marks."""

from __future__ import annotations

from tests.builders import fail, reload
from tests.history import bot_takes_it_again
from warmup.models import WarmupPhase
from warmup.services.bot_work import phase_complete
from warmup.services.resolutions import review_resolve

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
