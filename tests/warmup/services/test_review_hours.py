"""The review log counted per hour (warmup.services.review_hours): the scheduler keeps an
unbroken run of settled hours, and the dashboard's flow and top escalations read from it are the
numbers the log itself gives, for any window, ragged ends and hours not yet counted included."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews.models import ReviewLogCount, ReviewLogHour
from tests.builders import reload
from tests.factories import (
    FIRST_STEP,
    AccountFactory,
    BotFactory,
    WarmupPhaseFactory,
    new_item_in_review,
)
from tests.resolved import resolved_then_undone
from warmup.models import PhaseStatus
from warmup.selectors import analytics
from warmup.services import tick as tick_module
from warmup.services.bot_work import phase_claim
from warmup.services.resolutions import review_resume
from warmup.services.review import review_hold
from warmup.services.review_hours import KEPT_FOR, STEP, WRITES_SETTLE, review_hours_count_due
from warmup.services.tick import TickReport, tick

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def count_everything() -> int:
    """What the scheduler's ticks do over time, at once: every settled hour counted."""
    hours = 0
    while counted := review_hours_count_due(now=timezone.now()):
        hours += counted
    return hours


def kept_run() -> tuple:
    hours = list(ReviewLogHour.objects.order_by("hour").values_list("hour", flat=True))
    return hours[0], hours[-1], len(hours)


def a_log_over_three_days(clock, actor):
    """Escalations by two bots on several platforms, a lease that expired into review (the
    system's row, named by its bot), a hold, a resume and a batch undone, hours apart."""
    busy, quiet = BotFactory(name="busy-bot"), BotFactory(name="quiet-bot")
    for _ in range(3):
        new_item_in_review(busy)
        clock.shift(timedelta(hours=5, minutes=17))
    resumed = new_item_in_review(quiet, category="login_failed")
    account = AccountFactory()
    for _ in range(3):  # the first attempt and two automatic retries, then the system escalates
        tick()
        clock.shift(timedelta(minutes=30))
        phase = phase_claim(bot=quiet, phase_types=[FIRST_STEP])
        assert phase.account_id == account.pk
        clock.shift(phase.template.lease_duration + timedelta(minutes=1))
    tick()
    assert reload(phase).status == PhaseStatus.REVIEW_REQUIRED
    clock.shift(timedelta(hours=9, minutes=41))
    review_resume(phase_id=resumed.pk, actor=actor, reason_code="other", note="fixed")
    review_hold(phase_id=WarmupPhaseFactory().pk, actor=actor, note="look first")
    clock.shift(timedelta(hours=20))
    resolved_then_undone(
        new_item_in_review(busy), method="retry", actor=actor, clock=clock, apart=HOUR
    )
    clock.shift(timedelta(hours=7, minutes=3))


def test_kept_hours_give_the_numbers_the_log_gives(content_pool, clock, reviewer_actor):
    clock.move_to(timezone.now().replace(minute=5, second=0, microsecond=0))
    start = timezone.now()
    a_log_over_three_days(clock, reviewer_actor)  # the second escalation at 5 h 17 min
    ReviewLogHour.objects.all().delete()  # the ticks above kept some: start with none
    second = start + timedelta(hours=5, minutes=17)
    windows = [  # ragged ends, inside an hour with rows on either side of them
        (start - timedelta(minutes=37), None),
        (second + timedelta(minutes=3), start + timedelta(days=1, minutes=49)),
        (start + timedelta(minutes=1), second - timedelta(minutes=3)),
        (start + timedelta(hours=30), None),
    ]

    def numbers():
        return [
            (
                analytics.daily_flow(since=since, until=until),
                analytics.top_escalations(since=since, until=until),
            )
            for since, until in windows
        ]

    from_the_log = numbers()
    hours = count_everything()
    from_kept_hours = numbers()

    assert hours > 2 * 24
    assert ReviewLogCount.objects.filter(measure="bot").count() >= 3
    assert from_kept_hours == from_the_log
    flow, top = from_the_log[0]
    assert top["bot"] == [("busy-bot", 4), ("quiet-bot", 2)]
    assert sum(day["entered"] for day in flow) == 8  # 6 escalations, a hold, an undo
    assert sum(day["resolved"] for day in flow) == 2


def test_whole_kept_hours_are_read_without_the_log(content_pool, clock, reviewer_actor):
    a_log_over_three_days(clock, reviewer_actor)
    count_everything()
    first, last, _ = kept_run()

    with CaptureQueriesContext(connection) as queries:
        top = analytics.top_escalations(since=first, until=last)

    assert top["bot"]
    assert not [q for q in queries.captured_queries if '"reviews_reviewlog"' in q["sql"]]


def test_the_scheduler_keeps_an_unbroken_run_of_settled_hours(content_pool, bot, clock):
    # given: a moment past the half hour; the hour it is in has not settled
    clock.move_to(timezone.now().astimezone(UTC).replace(minute=40) + timedelta(days=1))
    settled = timezone.now().replace(minute=0, second=0, microsecond=0)  # this hour's start

    # when: the first tick that counts; then the next ones
    assert review_hours_count_due(now=timezone.now()) == 24  # the day up to this hour
    assert kept_run() == (settled - STEP, settled - HOUR, 24)
    assert review_hours_count_due(now=timezone.now()) == 24  # then a day further back each
    while review_hours_count_due(now=timezone.now()):
        pass

    # then: back to KEPT_FOR ago, and not beyond
    first, last, hours = kept_run()
    assert last == settled - HOUR
    assert first == (timezone.now() - KEPT_FOR).replace(minute=0, second=0, microsecond=0)
    assert hours == (last - first) / HOUR + 1

    # when: an escalation in this hour; the hour ends, then its writers settle
    new_item_in_review(bot)
    clock.shift(timedelta(minutes=20) + WRITES_SETTLE - timedelta(minutes=1))
    assert review_hours_count_due(now=timezone.now()) == 0  # not yet: writers may be at it
    clock.shift(timedelta(minutes=1))
    tick()  # the scheduler's tick counts it
    assert kept_run()[1] == settled
    assert ReviewLogCount.objects.get(hour=settled, measure="entered").n == 1

    # when: a long pause (the scheduler stopped for 100 days)
    clock.shift(timedelta(days=100))
    count_everything()

    # then: the run moved on whole, the hours older than KEPT_FOR dropped
    first, last, hours = kept_run()
    assert first == (timezone.now() - KEPT_FOR).replace(minute=0, second=0, microsecond=0)
    assert hours == (last - first) / HOUR + 1
    assert not ReviewLogCount.objects.filter(hour=settled).exists()


def test_counting_that_fails_is_logged_and_fails_neither_the_tick_nor_its_checkpoint(
    monkeypatch, caplog
):
    signed = []

    def time_out(**kwargs):
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(tick_module, "review_hours_count_due", time_out)
    monkeypatch.setattr(tick_module, "checkpoints_write_due", lambda **kwargs: signed.append(1))

    assert tick() == TickReport()

    assert "Counting the review log's hours failed; the next tick tries again" in caplog.text
    assert signed == [1]
