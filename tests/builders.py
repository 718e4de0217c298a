"""Small helpers around a phase: find it, read it again, report its failure, compare its row.
A phase in a given status comes from tests/factories.py: `WarmupPhaseFactory(in_review=True)`."""

from warmup.models import WarmupPhase
from warmup.services.bot_work import phase_fail

# The phase types of the default plan that take content.
CONTENT_TYPES = ["profile_bio", "avatar", "first_post", "first_story"]


def first_phase(account) -> WarmupPhase:
    return account.phases.order_by("order").first()


def reload(phase) -> WarmupPhase:
    return WarmupPhase.objects.get(pk=phase.pk)


def fail(phase, bot, category="network_error", **kwargs):
    """Report a failure of `phase` (as claimed by `bot`) under its current lease."""
    kwargs.setdefault("reason", f"{category} during {phase.phase_type}")
    return phase_fail(
        phase_id=phase.pk, bot=bot, lease_token=phase.lease_token, category=category, **kwargs
    )


def stored(phase) -> dict:
    """Every stored column of the phase: compare before/after to prove nothing changed."""
    return WarmupPhase.objects.filter(pk=phase.pk).values().get()
