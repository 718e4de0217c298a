"""Leases (heartbeat, expiry by the scheduler, late and replayed reports) and the escalation of
items that wait in review."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reviews.models import ReviewLog
from tests.builders import fail, reload, stored
from tests.factories import WarmupPhaseFactory
from tests.integrity import assert_integrity
from warmup.domain.choices import ActorType, ReasonCode, ReviewAction
from warmup.domain.errors import LEASE_EXPIRED, LEASE_STALE, LeaseLost, NotFound
from warmup.models import AttemptOutcome, FailureCategory, FailureDecision, PhaseStatus
from warmup.services.bot_work import phase_claim, phase_complete, phase_fail, phase_heartbeat
from warmup.services.resolutions import review_retry
from warmup.services.tick import tick

S = PhaseStatus
LEASE = timedelta(minutes=10)  # the default plan's first step


def attempts_of(phase) -> list[dict]:
    return list(phase.attempts.order_by("number").values())


def logs_of(phase, action=None) -> list[ReviewLog]:
    logs = ReviewLog.objects.filter(phase=phase)
    if action:
        logs = logs.filter(action=action)
    return list(logs.order_by("created_at", "id"))


def expire_and_tick(clock, phase):
    """Let the phase's lease run out, then run the scheduler."""
    clock.move_to(phase.lease_expires_at + timedelta(seconds=1))
    return tick()


def late_reports_are_refused(phase, bot, token, message):
    """Each report from a bot that lost its lease is refused with `message`."""
    for call, extra in (
        (phase_heartbeat, {}),
        (phase_complete, {}),
        (phase_fail, {"category": "network_error", "reason": "late"}),
    ):
        with pytest.raises(LeaseLost) as raised:
            call(phase_id=phase.pk, bot=bot, lease_token=token, **extra)
        assert raised.value.code == "lease_lost"
        assert raised.value.message == message


# --- Heartbeat ---------------------------------------------------------------------------


def test_a_heartbeat_extends_the_lease(account, bot, clock):
    # given a claim, 8 minutes into its 10-minute lease
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    assert phase.template.lease_duration == LEASE
    claimed_at = timezone.now()
    clock.shift(timedelta(minutes=8))

    # when the bot sends a heartbeat
    returned = phase_heartbeat(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)

    # then the lease runs a full duration from now, and outlives the original expiry
    assert returned.lease_expires_at == timezone.now() + LEASE
    assert reload(phase).lease_expires_at == claimed_at + timedelta(minutes=18)
    clock.move_to(claimed_at + timedelta(minutes=12))
    assert tick().expired == 0
    phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
    assert reload(phase).status == S.COMPLETED


def test_a_lease_runs_out_without_heartbeats_even_before_the_scheduler_runs(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    clock.move_to(phase.lease_expires_at)
    before = stored(phase)

    late_reports_are_refused(
        phase,
        bot,
        phase.lease_token,
        LEASE_EXPIRED.format(expires_at=phase.lease_expires_at.isoformat()),
    )

    assert stored(phase) == before
    assert phase.attempts.get().outcome == ""


# --- Expiry by the scheduler ---------------------------------------------------------------


def test_expired_leases_are_retried_twice_then_go_to_review(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)

    # given two expiries, each retried by policy
    for expected_retry in (1, 2):
        lease_expires_at = phase.lease_expires_at
        report = expire_and_tick(clock, phase)

        assert report.expired == 1
        expired = reload(phase)
        assert expired.status == S.CONTENT_ASSIGNED
        assert expired.retry_count == expected_retry
        assert expired.last_failure_category == FailureCategory.LEASE_EXPIRED
        assert expired.last_failure_details == {
            "bot": bot.name,
            "lease_expires_at": lease_expires_at.isoformat(),
        }
        assert expired.next_attempt_at > timezone.now()
        assert (expired.lease_token, expired.lease_expires_at) == (None, None)
        attempt = expired.attempts.get(number=expected_retry)
        assert attempt.outcome == AttemptOutcome.LEASE_EXPIRED
        assert attempt.decision == FailureDecision.RETRY_SCHEDULED
        assert attempt.failure_category == FailureCategory.LEASE_EXPIRED
        assert_integrity()

        clock.move_to(expired.next_attempt_at)
        phase = phase_claim(bot=bot)
        assert phase is not None

    # when the third lease runs out too
    expire_and_tick(clock, phase)

    # then the phase waits for a person, logged as escalated by the system
    phase = reload(phase)
    assert phase.status == S.REVIEW_REQUIRED
    assert phase.review_required_since == timezone.now()
    assert phase.attempts.get(number=3).decision == FailureDecision.REVIEW_REQUIRED
    (log,) = logs_of(phase)
    assert log.action == ReviewAction.ESCALATED
    assert log.actor_type == ActorType.SYSTEM
    assert (log.from_status, log.to_status) == (S.IN_PROGRESS, S.REVIEW_REQUIRED)
    assert (log.failure_category, log.retry_count) == (FailureCategory.LEASE_EXPIRED, 2)
    assert_integrity()


def test_tick_leaves_live_leases_alone(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    before = stored(phase)
    clock.move_to(phase.lease_expires_at - timedelta(seconds=1))

    assert tick().expired == 0
    assert stored(phase) == before


def test_the_expired_bots_late_reports_change_nothing(account, bot, other_bot, clock):
    # given the lease expired, the scheduler retried, and another bot claimed the retry
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    old_token = phase.lease_token
    expire_and_tick(clock, phase)
    clock.move_to(reload(phase).next_attempt_at)
    reclaimed = phase_claim(bot=other_bot)
    assert reclaimed.pk == phase.pk
    before, attempts_before = stored(phase), attempts_of(phase)

    # when the first bot wakes up and reports with its old lease
    late_reports_are_refused(phase, bot, old_token, LEASE_STALE)

    # then the phase, its attempts and the new lease are untouched
    assert stored(phase) == before
    assert attempts_of(phase) == attempts_before
    assert logs_of(phase) == []
    phase_complete(phase_id=phase.pk, bot=other_bot, lease_token=reclaimed.lease_token)
    assert reload(phase).status == S.COMPLETED


# --- Replayed reports --------------------------------------------------------------------


def test_a_replayed_failure_gets_the_same_answer_and_counts_once(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    token = phase.lease_token
    first = fail(phase, bot, FailureCategory.NETWORK_ERROR, details={"errno": 104})
    before, attempts_before = stored(phase), attempts_of(phase)

    # when the bot's retry of the same request arrives a little later
    clock.shift(timedelta(seconds=5))
    replay = phase_fail(
        phase_id=phase.pk,
        bot=bot,
        lease_token=token,
        category=FailureCategory.NETWORK_ERROR,
        reason="network_error during profile_bio",
    )

    assert replay.replayed and not first.replayed
    assert replay.decision == first.decision == FailureDecision.RETRY_SCHEDULED
    assert (replay.retry_count, replay.max_retries) == (first.retry_count, first.max_retries)
    assert replay.next_attempt_at == first.next_attempt_at
    assert replay.details == {"errno": 104}
    assert stored(phase) == before
    assert stored(phase)["retry_count"] == 1
    assert attempts_of(phase) == attempts_before


def test_a_replayed_escalation_is_not_logged_twice(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    token = phase.lease_token
    first = fail(phase, bot, FailureCategory.CHALLENGE_REQUIRED)
    clock.shift(timedelta(minutes=1))

    replay = phase_fail(
        phase_id=phase.pk,
        bot=bot,
        lease_token=token,
        category=FailureCategory.CHALLENGE_REQUIRED,
        reason="again",
    )

    assert replay.decision == FailureDecision.REVIEW_REQUIRED
    assert replay.review_required_since == first.review_required_since
    assert reload(phase).review_required_since == first.review_required_since
    assert len(logs_of(phase)) == 1


def test_a_replayed_completion_changes_nothing(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
    following = account.phases.get(order=2)
    before, following_before = stored(phase), stored(following)

    clock.shift(timedelta(hours=1))
    replay = phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)

    assert replay.status == S.COMPLETED
    assert stored(phase) == before
    # the next phase's delay still counts from the first report
    assert stored(following) == following_before


def test_a_replay_from_another_bot_is_refused(account, bot, other_bot):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    token = phase.lease_token
    fail(phase, bot, FailureCategory.NETWORK_ERROR)
    before = stored(phase)

    # A bot that never held the phase is told no more than of a phase that does not exist.
    with pytest.raises(NotFound):
        phase_fail(
            phase_id=phase.pk,
            bot=other_bot,
            lease_token=token,
            category=FailureCategory.NETWORK_ERROR,
            reason="stolen token",
        )

    assert stored(phase) == before


def test_a_bot_that_held_another_phase_learns_nothing_of_this_one(bot, other_bot):
    # given: the other bot holds a phase of its own; mine is in progress under my lease
    WarmupPhaseFactory(bot=other_bot, in_progress=True)
    phase = WarmupPhaseFactory(bot=bot, in_progress=True)
    before = stored(phase)

    # when: the other bot reports on my phase, with my (leaked) token
    # then: as for a phase that does not exist; its lease and status are not told
    for call, extra in (
        (phase_heartbeat, {}),
        (phase_complete, {}),
        (phase_fail, {"category": "network_error", "reason": "not mine"}),
    ):
        with pytest.raises(NotFound):
            call(phase_id=phase.pk, bot=other_bot, lease_token=phase.lease_token, **extra)
    assert stored(phase) == before


# --- Escalation --------------------------------------------------------------------------


def escalation_levels_logged(phase) -> list[int]:
    return [log.escalation_level for log in logs_of(phase, ReviewAction.ESCALATION_RAISED)]


def test_escalation_rises_at_each_threshold_and_is_logged_once(account, bot, clock, settings):
    assert settings.WARMUP_ESCALATION_THRESHOLDS == [
        timedelta(hours=1),
        timedelta(hours=4),
        timedelta(hours=24),
    ]
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    since = phase.review_required_since
    expected = [
        (timedelta(minutes=59), 0),
        (timedelta(hours=1), 1),
        (timedelta(hours=3, minutes=59), 1),
        (timedelta(hours=4), 2),
        (timedelta(hours=23), 2),
        (timedelta(hours=24), 3),
        (timedelta(days=3), 3),
    ]

    for age, level in expected:
        clock.move_to(since + age)
        # the scheduler runs often: only the first tick past a threshold raises the level
        for _ in range(3):
            tick()
        assert reload(phase).escalation_level == level, age
        assert escalation_levels_logged(phase) == list(range(1, level + 1)), age

    rows = logs_of(phase, ReviewAction.ESCALATION_RAISED)
    assert [row.created_at - since for row in rows] == [
        timedelta(hours=1),
        timedelta(hours=4),
        timedelta(hours=24),
    ]
    for row in rows:
        assert row.actor_type == ActorType.SYSTEM
        assert (row.from_status, row.to_status) == (S.REVIEW_REQUIRED, S.REVIEW_REQUIRED)
        assert row.data == {"level": row.escalation_level}


def test_an_item_first_seen_after_25_hours_logs_every_level_crossed(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    clock.move_to(phase.review_required_since + timedelta(hours=25))

    report = tick()
    tick()

    assert report.escalated == 3
    assert reload(phase).escalation_level == 3
    assert escalation_levels_logged(phase) == [1, 2, 3]


def test_escalation_thresholds_come_from_settings(account, bot, clock, settings):
    settings.WARMUP_ESCALATION_THRESHOLDS = [timedelta(minutes=10), timedelta(minutes=20)]
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)

    clock.move_to(phase.review_required_since + timedelta(minutes=10))
    tick()
    assert reload(phase).escalation_level == 1
    clock.move_to(phase.review_required_since + timedelta(days=2))
    tick()

    assert reload(phase).escalation_level == 2
    assert escalation_levels_logged(phase) == [1, 2]


def test_the_review_clock_starts_when_the_item_enters_review(account, bot, clock, reviewer_actor):
    # given a phase that spent two hours in review, was retried and failed again
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    clock.shift(timedelta(hours=2))
    tick()
    assert reload(phase).escalation_level == 1
    review_retry(
        phase_id=phase.pk,
        reason_code=ReasonCode.SOLVED_CHALLENGE,
        note="SMS code entered",
        actor=reviewer_actor,
    )
    claimed = phase_claim(bot=bot)
    fail(claimed, bot, FailureCategory.CHALLENGE_REQUIRED)

    # when 59 minutes pass in its second stay in review
    clock.shift(timedelta(minutes=59))
    tick()

    # then it has not escalated again: its age counts from the new entry
    phase = reload(phase)
    assert phase.review_required_since == timezone.now() - timedelta(minutes=59)
    assert phase.escalation_level == 0
    assert escalation_levels_logged(phase) == [1]
