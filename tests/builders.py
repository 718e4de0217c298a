"""Drive a phase into each status through the real services (the only writers of status), so
a test's phase is always one the system could have produced. `MAKERS[status](account, bot)`."""

from warmup.models import PhaseStatus, WarmupPhase
from warmup.scheduler import tick
from warmup.services.phases import phase_claim, phase_complete, phase_fail

# The phase types of the default plan that take content.
CONTENT_TYPES = ["profile_bio", "avatar", "first_post", "first_story"]


def first_phase(account) -> WarmupPhase:
    return account.phases.order_by("order").first()


def reload(phase) -> WarmupPhase:
    return WarmupPhase.objects.get(pk=phase.pk)


def make_content_assigned(account) -> WarmupPhase:
    tick()
    phase = reload(first_phase(account))
    assert phase.status == PhaseStatus.CONTENT_ASSIGNED
    return phase


def make_in_progress(account, bot) -> WarmupPhase:
    make_content_assigned(account)
    phase = phase_claim(bot=bot)
    assert phase is not None and phase.status == PhaseStatus.IN_PROGRESS
    return phase


def make_review_required(account, bot, category="challenge_required") -> WarmupPhase:
    phase = make_in_progress(account, bot)
    outcome = phase_fail(
        phase_id=phase.pk,
        bot=bot,
        lease_token=phase.lease_token,
        category=category,
        reason="Instagram asks for an SMS code",
        details={"step": "login"},
    )
    assert outcome.phase.status == PhaseStatus.REVIEW_REQUIRED
    return reload(phase)


def make_completed(account, bot) -> WarmupPhase:
    phase = make_in_progress(account, bot)
    return phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)


def make_pending(account, bot) -> WarmupPhase:
    """Complete the first phase; return the second, pending until its template delay passes."""
    make_completed(account, bot)
    phase = account.phases.get(order=2)
    assert phase.status == PhaseStatus.PENDING
    return phase


def make_available(account) -> WarmupPhase:
    phase = reload(first_phase(account))
    assert phase.status == PhaseStatus.AVAILABLE
    return phase


# Build a phase in any status through the real services: MAKERS[status](account, bot).
MAKERS = {
    PhaseStatus.PENDING: make_pending,
    PhaseStatus.AVAILABLE: lambda account, bot: make_available(account),
    PhaseStatus.CONTENT_ASSIGNED: lambda account, bot: make_content_assigned(account),
    PhaseStatus.IN_PROGRESS: make_in_progress,
    PhaseStatus.REVIEW_REQUIRED: make_review_required,
    PhaseStatus.COMPLETED: make_completed,
}


def make_phase_in(status, account, bot) -> WarmupPhase:
    return reload(MAKERS[status](account, bot))


def fail(phase, bot, category="network_error", **kwargs):
    """Report a failure of `phase` (as claimed by `bot`) under its current lease."""
    kwargs.setdefault("reason", f"{category} during {phase.phase_type}")
    return phase_fail(
        phase_id=phase.pk, bot=bot, lease_token=phase.lease_token, category=category, **kwargs
    )


def stored(phase) -> dict:
    """Every stored column of the phase: compare before/after to prove nothing changed."""
    return WarmupPhase.objects.filter(pk=phase.pk).values().get()
