"""The factories' traits make what they say, through the services."""

import pytest

from tests.factories import AccountFactory, BotFactory, WarmupPhaseFactory
from warmup.models import Bot, PhaseStatus, WarmupPhase


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


def test_a_phase_is_driven_for_the_account_and_bot_given(db):
    account, bot = AccountFactory(), BotFactory()

    phase = WarmupPhaseFactory(account=account, bot=bot, completed=True)

    assert (phase.account, phase.bot, phase.order) == (account, bot, 1)
    assert [(a.number, a.bot, a.outcome) for a in phase.attempts.all()] == [(1, bot, "completed")]


def test_a_phase_that_needs_no_claim_makes_no_bot(db):
    WarmupPhaseFactory(content_assigned=True)

    assert not Bot.objects.exists()


def test_an_in_review_phase_carries_its_failure_and_the_bot_that_held_it(db):
    bot = BotFactory()

    phase = WarmupPhaseFactory(in_review=True, category="login_failed", bot=bot)

    assert phase.last_failure_category == "login_failed"
    assert phase.review_required_since is not None
    assert phase.bot == bot
    assert phase.attempts.get().bot == bot
