"""The review side's reads: the queue's order, and one item with its history."""

from datetime import timedelta

from tests.builders import fail, reload
from tests.factories import AccountFactory, BotFactory, WarmupPhaseFactory
from warmup.domain.choices import ReviewAction
from warmup.models import PhaseStatus, WarmupPhase
from warmup.selectors.queue import review_item_with_history, review_queue
from warmup.services.bot_work import phase_claim
from warmup.services.review import review_comment


def test_the_queue_is_highest_level_first_then_longest_waiting_then_first_in(
    content_pool, bot, clock
):
    # given items entering review a minute apart, two of them at the same instant
    first = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    clock.shift(timedelta(minutes=1))
    second = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    twin = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    clock.shift(timedelta(minutes=1))
    newest = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    # ... the newest at a higher level (set here; the tick raises levels by age)
    WarmupPhase.objects.filter(pk=newest.pk).update(escalation_level=2)
    # ... and phases that are not in review
    WarmupPhaseFactory(account=AccountFactory(), bot=BotFactory(), in_progress=True)
    WarmupPhaseFactory(account=AccountFactory(), bot=BotFactory(), completed=True)

    queue = [item.pk for item in review_queue()]

    assert reload(twin).review_required_since == reload(second).review_required_since
    assert queue == [newest.pk, first.pk, second.pk, twin.pk]
    assert [item.pk for item in review_queue(with_step=False)] == queue


def test_an_item_comes_with_its_attempts_and_review_log_oldest_first(
    account, bot, other_bot, reviewer, reviewer_actor, clock
):
    # given a phase that failed on its first attempt, was claimed again by another bot and
    # went to review from its second, then a reviewer's comment
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    fail(phase, bot, "network_error")
    clock.move_to(reload(phase).next_attempt_at + timedelta(seconds=1))
    again = phase_claim(bot=other_bot)
    assert again.pk == phase.pk
    fail(again, other_bot, "challenge_required")
    clock.shift(timedelta(minutes=1))
    review_comment(phase_id=phase.pk, note="Asked the owner for the code.", actor=reviewer_actor)

    item = review_item_with_history(phase_id=phase.pk)

    assert item.status == PhaseStatus.REVIEW_REQUIRED
    attempts = [(a.number, a.bot, a.failure_category) for a in item.attempts.all()]
    assert attempts == [(1, bot, "network_error"), (2, other_bot, "challenge_required")]
    log = [(row.action, row.actor_user) for row in item.review_logs.all()]
    assert log == [(ReviewAction.ESCALATED, None), (ReviewAction.COMMENTED, reviewer)]


def test_an_item_out_of_review_comes_with_its_history_too(account, bot):
    done = WarmupPhaseFactory(account=account, bot=bot, completed=True)

    item = review_item_with_history(phase_id=done.pk)

    assert item.status == PhaseStatus.COMPLETED
    assert [(a.number, a.outcome) for a in item.attempts.all()] == [(1, "completed")]
    assert list(item.review_logs.all()) == []


def test_no_such_item_is_none(db):
    assert review_item_with_history(phase_id=999_999) is None
