"""Real threads against PostgreSQL: bots claiming at once, two scheduler ticks at once, and a
reviewer acting on a phase at the moment its bot reports.

Each thread has its own database connection (Django's are per thread) and closes it when it
ends; a Barrier starts the threads together. These tests need committed data that other
connections can see, hence transactional_db.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from reviews.models import ReviewLog
from tests.conftest import requires_postgres
from tests.factories import AccountFactory, BotFactory, ContentItemFactory, UserFactory
from warmup.domain.actors import Actor
from warmup.domain.choices import ReviewAction
from warmup.domain.errors import InvalidTransition, LeaseLost
from warmup.models import (
    AttemptOutcome,
    ContentItem,
    FailureCategory,
    PhaseAttempt,
    PhaseStatus,
    WarmupPhase,
)
from warmup.services.bot_work import phase_claim, phase_complete, phase_fail
from warmup.services.resolutions import review_complete, review_resume, review_retry
from warmup.services.review import review_hold, reviews_escalate_due
from warmup.services.tick import tick

S = PhaseStatus

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_plan"),
]


THREAD_TIMEOUT = 60  # seconds; a thread still running after this is a hang (deadlock, lost wakeup)


def run_together(*targets: Callable[[], object]) -> list[tuple[object, BaseException | None]]:
    """Run each target in its own thread, released at the same moment by a barrier.

    Returns (result, error) per target, in order. Each thread closes its connection.
    """
    barrier = threading.Barrier(len(targets))
    outcomes: list[tuple[object, BaseException | None]] = [(None, None)] * len(targets)

    def work(index: int, target):
        try:
            barrier.wait(timeout=THREAD_TIMEOUT)
            outcomes[index] = (target(), None)
        except BaseException as exc:  # handed to the test, which asserts on it
            outcomes[index] = (None, exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, args=(i, target), name=f"worker-{i}")
        for i, target in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcomes


def errors_of(outcomes) -> list[BaseException]:
    return [error for _, error in outcomes if error is not None]


def scheduler_errors(caplog) -> list[str]:
    """Errors logged meanwhile: the scheduler skips a row that fails rather than stopping, so
    a race it lost shows up here, not as an exception."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def first_phases(accounts) -> list[WarmupPhase]:
    return [account.phases.get(order=1) for account in accounts]


# --- (a) bots claiming at once ------------------------------------------------------------


def test_eight_bots_claiming_at_once_get_every_ready_phase_exactly_once():
    # given 200 accounts whose first phase is ready to claim
    ContentItemFactory.create_batch(3, phase_type="profile_bio")
    accounts = AccountFactory.create_batch(200)
    tick()
    ready = {p.pk for p in first_phases(accounts)}
    assert WarmupPhase.objects.filter(pk__in=ready, status=S.CONTENT_ASSIGNED).count() == 200
    bots = BotFactory.create_batch(8)

    # when 8 bots claim in a loop until nothing is left
    def claim_until_empty(bot):
        def claim_loop():
            claimed = []
            while (phase := phase_claim(bot=bot)) is not None:
                claimed.append((phase.pk, phase.lease_token))
            return claimed

        return claim_loop

    outcomes = run_together(*(claim_until_empty(bot) for bot in bots))

    # then no bot saw an error, and every phase was handed out once, to one bot
    assert errors_of(outcomes) == []
    claims = [
        (phase_id, token, bot.pk)
        for (claimed, _), bot in zip(outcomes, bots, strict=True)
        for phase_id, token in claimed
    ]
    assert len(claims) == 200
    duplicates = [pk for pk, n in Counter(pk for pk, _, _ in claims).items() if n > 1]
    assert duplicates == []
    assert {pk for pk, _, _ in claims} == ready
    assert sum(1 for claimed, _ in outcomes if claimed) >= 2, "the bots did not overlap at all"

    # and the database agrees: one attempt per phase, held by the bot that was told so
    assert PhaseAttempt.objects.count() == 200
    attempts = {a.phase_id: a for a in PhaseAttempt.objects.all()}
    phases = {p.pk: p for p in WarmupPhase.objects.filter(pk__in=ready)}
    for phase_id, token, bot_id in claims:
        phase, attempt = phases[phase_id], attempts[phase_id]
        assert (phase.status, phase.bot_id, phase.lease_token) == (S.IN_PROGRESS, bot_id, token)
        assert phase.attempt_count == 1
        assert (attempt.number, attempt.bot_id, attempt.lease_token) == (1, bot_id, token)
        assert attempt.outcome == ""
    assert phase_claim(bot=bots[0]) is None


# --- (b) two scheduler ticks at once ------------------------------------------------------


GROUP = 25  # accounts per kind of due work


@pytest.fixture
def small_batches(settings):
    # Small batches make the two ticks interleave batch by batch instead of one taking all.
    settings.WARMUP_TICK_BATCH_SIZE = 4
    return settings


def test_two_ticks_at_once_do_each_piece_of_work_exactly_once(small_batches, caplog):
    start = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        # given content for the first two phase types, and accounts with every kind of due work
        for phase_type in ("profile_bio", "avatar"):
            ContentItemFactory.create_batch(3, phase_type=phase_type)
        bot = BotFactory()
        leased = AccountFactory.create_batch(GROUP)  # leases that will have expired
        unlocking = AccountFactory.create_batch(GROUP)  # second phase due to unlock
        in_review = AccountFactory.create_batch(GROUP)  # due for three escalation levels
        tick()
        for account in leased + unlocking + in_review:
            phase = phase_claim(bot=bot, platforms=[account.platform])
            assert phase is not None and phase.account_id == account.pk
            if account in unlocking:
                phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
            elif account in in_review:
                phase_fail(
                    phase_id=phase.pk,
                    bot=bot,
                    lease_token=phase.lease_token,
                    category=FailureCategory.CHALLENGE_REQUIRED,
                    reason="SMS code",
                )
        clock.shift(timedelta(hours=25))
        fresh = AccountFactory.create_batch(GROUP)  # first phase available, needs content
        content_before = ContentItem.objects.aggregate(n=Sum("times_used"))["n"]

        # when two scheduler ticks run at the same moment
        outcomes = run_together(tick, tick)

    # then neither failed, nor skipped a row it could not process, and between them they did
    # each piece of work once
    assert errors_of(outcomes) == []
    assert scheduler_errors(caplog) == []
    reports = [report for report, _ in outcomes]
    total = Counter()
    for report in reports:
        total.update(report.as_dict())
    assert dict(total) == {
        "expired": GROUP,
        "unlocked": GROUP,
        "assigned": 2 * GROUP,  # the unlocked second phases and the fresh first phases
        "starved": 0,
        "escalated": 3 * GROUP,
    }

    # each expired lease: one lease_expired attempt outcome, one retry
    for phase in first_phases(leased):
        assert phase.status == S.CONTENT_ASSIGNED
        assert phase.retry_count == 1
        assert phase.last_failure_category == FailureCategory.LEASE_EXPIRED
        outcomes_of_phase = list(phase.attempts.values_list("outcome", flat=True))
        assert outcomes_of_phase == [AttemptOutcome.LEASE_EXPIRED]

    # each unlocked and each fresh phase got content once
    for account in unlocking:
        assert account.phases.get(order=2).status == S.CONTENT_ASSIGNED
    for phase in first_phases(fresh):
        assert phase.status == S.CONTENT_ASSIGNED and phase.content_id is not None
    content_after = ContentItem.objects.aggregate(n=Sum("times_used"))["n"]
    assert content_after - content_before == 2 * GROUP
    assert content_after == WarmupPhase.objects.filter(content__isnull=False).count()
    # and "least used" held across both ticks: no item of a type is two uses ahead of another
    for phase_type in ("profile_bio", "avatar"):
        uses = ContentItem.objects.filter(phase_type=phase_type).values_list(
            "times_used", flat=True
        )
        assert max(uses) - min(uses) <= 1, (phase_type, sorted(uses))

    # each escalation level of each item in review was logged once
    review_ids = [p.pk for p in first_phases(in_review)]
    raised = (
        ReviewLog.objects.filter(action=ReviewAction.ESCALATION_RAISED)
        .values_list("phase_id", "escalation_level")
        .annotate(n=Count("id"))
        .order_by()
    )
    assert sorted(raised) == sorted((pk, level, 1) for pk in review_ids for level in (1, 2, 3))
    assert set(
        WarmupPhase.objects.filter(pk__in=review_ids).values_list("escalation_level", flat=True)
    ) == {3}


# --- (c) a reviewer and a bot acting on the same phase at once ----------------------------


ROUNDS = 15


@pytest.fixture
def reviewer_actor():
    return Actor.for_user(UserFactory(reviewer=True))


def in_progress_phases(count: int, bot) -> list[WarmupPhase]:
    ContentItemFactory.create_batch(2, phase_type="profile_bio")
    accounts = AccountFactory.create_batch(count)
    tick()
    phases = []
    for account in accounts:
        phase = phase_claim(bot=bot, platforms=[account.platform])
        assert phase is not None and phase.account_id == account.pk
        phases.append(phase)
    return phases


@pytest.mark.parametrize("report", ["complete", "fail"])
def test_hold_for_review_racing_the_bots_report_has_exactly_one_winner(reviewer_actor, report):
    bot = BotFactory()
    winners = Counter()
    for phase in in_progress_phases(ROUNDS, bot):
        # given a phase a bot holds; when a reviewer holds it as the bot reports
        def bot_reports(phase=phase):
            if report == "complete":
                return phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
            return phase_fail(
                phase_id=phase.pk,
                bot=bot,
                lease_token=phase.lease_token,
                category=FailureCategory.CHALLENGE_REQUIRED,
                reason="challenge",
            )

        def reviewer_holds(phase=phase):
            return review_hold(phase_id=phase.pk, note="checking by hand", actor=reviewer_actor)

        (_, bot_error), (_, hold_error) = run_together(bot_reports, reviewer_holds)

        # then exactly one of them won, and the loser got the domain error for it
        assert (bot_error is None) != (hold_error is None), (bot_error, hold_error)
        phase.refresh_from_db()
        attempt = phase.attempts.get()
        logs = list(phase.review_logs.values_list("action", flat=True))
        following = phase.account.phases.get(order=2)
        if hold_error is None:
            winners["reviewer"] += 1
            assert isinstance(bot_error, LeaseLost)
            assert phase.status == S.REVIEW_REQUIRED and phase.lease_token is None
            assert attempt.outcome == AttemptOutcome.INTERRUPTED
            assert logs == [ReviewAction.HELD]
            assert (following.status, following.available_at) == (S.PENDING, None)
        else:
            winners["bot"] += 1
            assert isinstance(hold_error, InvalidTransition)
            if report == "complete":
                assert phase.status == S.COMPLETED
                assert attempt.outcome == AttemptOutcome.COMPLETED
                assert logs == []
                assert following.available_at is not None
            else:
                assert phase.status == S.REVIEW_REQUIRED
                assert attempt.outcome == AttemptOutcome.FAILED
                assert logs == [ReviewAction.ESCALATED]
                assert following.available_at is None
    assert sum(winners.values()) == ROUNDS


RESOLUTIONS = {"resume": review_resume, "retry": review_retry, "complete": review_complete}


@pytest.mark.parametrize(("first", "second"), [("resume", "complete"), ("retry", "retry")])
def test_two_reviewers_resolving_one_item_at_once_resolve_it_once(reviewer_actor, first, second):
    bot = BotFactory()
    other_actor = Actor.for_user(UserFactory(reviewer=True))
    phases = in_progress_phases(ROUNDS, bot)
    for phase in phases:
        phase_fail(
            phase_id=phase.pk,
            bot=bot,
            lease_token=phase.lease_token,
            category=FailureCategory.LOGIN_FAILED,
            reason="password changed",
        )

    for phase in phases:
        # given an item in review; when two reviewers resolve it at the same moment
        def resolve(method, actor, phase=phase):
            return lambda: RESOLUTIONS[method](
                phase_id=phase.pk, reason_code="fixed_credentials", note="new password", actor=actor
            )

        outcomes = run_together(resolve(first, reviewer_actor), resolve(second, other_actor))

        # then one resolution went through, the other was refused, one row was logged
        errors = errors_of(outcomes)
        assert len(errors) == 1 and isinstance(errors[0], InvalidTransition), errors
        resolutions = phase.review_logs.exclude(action=ReviewAction.ESCALATED)
        assert resolutions.count() == 1
        phase.refresh_from_db()
        assert phase.review_required_since is None and phase.status != S.REVIEW_REQUIRED


# --- (d) the scheduler and a bot or reviewer at the same moment ---------------------------


def test_a_lease_swept_as_its_bot_completes_ends_one_way(reviewer_actor, caplog):
    bot = BotFactory()
    ContentItemFactory.create_batch(2, phase_type="profile_bio")
    winners = Counter()
    with time_machine.travel(datetime(2025, 3, 3, 9, 0, tzinfo=UTC), tick=False) as clock:
        for round_ in range(ROUNDS):
            # given a phase whose bot reports one second before its lease ends, while the
            # scheduler's clock is already past the end
            account = AccountFactory()
            tick()
            phase = phase_claim(bot=bot)
            assert phase is not None and phase.account_id == account.pk
            clock.shift(phase.lease_expires_at - timezone.now() - timedelta(seconds=1))
            sweep_at = phase.lease_expires_at + timedelta(seconds=1)

            # when the bot completes as the scheduler sweeps expired leases
            def bot_completes(phase=phase):
                return phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)

            def scheduler_sweeps(sweep_at=sweep_at):
                return tick(now=sweep_at)

            # (which thread starts first alternates, so that each side gets to win)
            if round_ % 2:
                (_, bot_error), (report, tick_error) = run_together(bot_completes, scheduler_sweeps)
            else:
                (report, tick_error), (_, bot_error) = run_together(scheduler_sweeps, bot_completes)

            # then either the completion or the expiry happened, never both
            assert tick_error is None
            assert scheduler_errors(caplog) == []
            phase.refresh_from_db()
            outcome = phase.attempts.get().outcome
            if bot_error is None:
                winners["bot"] += 1
                assert report.expired == 0
                assert (phase.status, outcome) == (S.COMPLETED, AttemptOutcome.COMPLETED)
            else:
                winners["scheduler"] += 1
                assert isinstance(bot_error, LeaseLost)
                assert report.expired == 1
                assert (phase.status, outcome) == (S.CONTENT_ASSIGNED, AttemptOutcome.LEASE_EXPIRED)
                assert phase.retry_count == 1
                # park it, so that the next round's claim gets the next round's phase
                review_hold(phase_id=phase.pk, note="parked", actor=reviewer_actor)
            clock.shift(timedelta(hours=1))
    assert sum(winners.values()) == ROUNDS


def test_a_resolution_racing_an_escalation_records_the_level_it_saw(reviewer_actor, caplog):
    bot = BotFactory()
    ContentItemFactory.create_batch(2, phase_type="profile_bio")
    start = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        for round_ in range(ROUNDS):
            # given an item 25 hours in review, due for escalation levels 1, 2 and 3
            account = AccountFactory()
            tick()
            phase = phase_claim(bot=bot, platforms=[account.platform])
            phase_fail(
                phase_id=phase.pk,
                bot=bot,
                lease_token=phase.lease_token,
                category=FailureCategory.CHALLENGE_REQUIRED,
                reason="SMS code",
            )
            clock.shift(timedelta(hours=25))

            # when a reviewer completes it as the scheduler raises its level
            def reviewer_completes(phase=phase):
                return review_complete(
                    phase_id=phase.pk,
                    reason_code="solved_challenge",
                    note="typed the code",
                    actor=reviewer_actor,
                )

            def scheduler_escalates():
                # the tick's escalation step alone: a whole tick reaches it too late to race
                return reviews_escalate_due(now=timezone.now())

            pair = (reviewer_completes, scheduler_escalates)
            outcomes = run_together(*(pair if round_ % 2 else pair[::-1]))

            # then both went through, and the log tells one consistent story: the levels
            # raised before the resolution, none after, and the resolution's own level
            assert errors_of(outcomes) == []
            assert scheduler_errors(caplog) == []
            logs = list(phase.review_logs.order_by("id").values_list("action", "escalation_level"))
            raised = [level for action, level in logs if action == ReviewAction.ESCALATION_RAISED]
            assert raised in ([], [1, 2, 3]), logs
            assert logs[-1] == (ReviewAction.COMPLETED, len(raised)), logs
            phase.refresh_from_db()
            assert (phase.status, phase.escalation_level) == (S.COMPLETED, 0)
