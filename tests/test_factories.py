"""The factories' traits make what they say, through the services."""

import pytest

from tests.factories import BotFactory, WarmupPhaseFactory
from warmup.models import PhaseStatus, WarmupPhase


@pytest.mark.parametrize(
    "trait, status",
    [
        (None, PhaseStatus.AVAILABLE),
        ("pending", PhaseStatus.PENDING),
        ("content_assigned", PhaseStatus.CONTENT_ASSIGNED),
        ("in_progress", PhaseStatus.IN_PROGRESS),
        ("in_review", PhaseStatus.REVIEW_REQUIRED),
        ("completed", PhaseStatus.COMPLETED),
    ],
)
def test_each_trait_makes_a_stored_phase_in_its_status(db, trait, status):
    phase = WarmupPhaseFactory(**({trait: True} if trait else {}))

    assert WarmupPhase.objects.get(pk=phase.pk).status == status


def test_an_in_review_phase_carries_its_failure_and_the_bot_that_held_it(db):
    bot = BotFactory()

    phase = WarmupPhaseFactory(in_review=True, category="login_failed", bot=bot)

    assert phase.last_failure_category == "login_failed"
    assert phase.review_required_since is not None
    assert phase.bot == bot
    assert phase.attempts.get().bot == bot
