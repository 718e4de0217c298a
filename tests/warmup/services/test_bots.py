"""Deactivating a bot ends the leases it holds at once, through the lease-expiry path: no
account waits out a lease held by a bot that can no longer report."""

from datetime import timedelta

import pytest

from reviews.models import ReviewLog
from tests.builders import fail, reload, stored
from tests.clients import assert_error, bot_client, report
from tests.factories import AccountFactory, BotFactory, WarmupPhaseFactory
from warmup.domain.actors import Actor
from warmup.domain.choices import ReviewAction
from warmup.domain.errors import BOT_DEACTIVATED_LEASE_ENDED
from warmup.models import AttemptOutcome, FailureDecision, PhaseStatus
from warmup.services.bot_work import phase_claim
from warmup.services.bots import bot_deactivate

S = PhaseStatus


def claim_on(platform: str, bot):
    phase = phase_claim(bot=bot, platforms=[platform])
    assert phase is not None
    return phase


@pytest.fixture
def two_leases(content_pool, bot, clock):
    """`bot` holds two unexpired leases: `fresh` (never failed) and `worn` (whose retries for
    a lease_expired failure are used up: two network errors before)."""
    fresh_account = AccountFactory(platform="instagram")
    AccountFactory(platform="tiktok")
    WarmupPhaseFactory(account=fresh_account, content_assigned=True)
    for _ in range(2):
        fail(claim_on("tiktok", bot), bot)
        clock.shift(timedelta(hours=2))
    worn = claim_on("tiktok", bot)
    fresh = claim_on("instagram", bot)
    assert worn.retry_count == 2 and fresh.retry_count == 0
    return fresh, worn


def test_deactivating_a_bot_ends_its_two_leases_at_once_by_policy(two_leases, bot):
    fresh, worn = two_leases
    reason = BOT_DEACTIVATED_LEASE_ENDED.format(bot=bot.name)

    done = bot_deactivate(name=bot.name)

    # the clock has not moved: neither lease had expired, both ended now
    assert sorted(outcome.decision for outcome in done.leases_ended) == [
        FailureDecision.RETRY_SCHEDULED,
        FailureDecision.REVIEW_REQUIRED,
    ]
    retried, escalated = reload(fresh), reload(worn)
    assert retried.status == S.CONTENT_ASSIGNED and retried.retry_count == 1
    assert escalated.status == S.REVIEW_REQUIRED and escalated.review_required_since is not None
    for phase in (retried, escalated):
        assert phase.lease_token is None and phase.lease_expires_at is None
        assert phase.last_failure_category == "lease_expired"
        assert phase.last_failure_reason == reason
        attempt = phase.attempts.order_by("number").last()
        assert attempt.outcome == AttemptOutcome.LEASE_EXPIRED and attempt.finished_at
    escalation = ReviewLog.objects.get(phase=escalated, action=ReviewAction.ESCALATED)
    assert escalation.failure_category == "lease_expired"
    assert not ReviewLog.objects.filter(phase=retried).exists()


def test_the_late_report_of_a_deactivated_bot_is_refused_and_changes_nothing(two_leases, bot):
    fresh, worn = two_leases
    bot_deactivate(name=bot.name)
    before = [stored(fresh), stored(worn)]
    api = bot_client(bot)

    completed = report(api, fresh.pk, "complete", lease_token=str(fresh.lease_token))
    failed = report(
        api, worn.pk, "fail", lease_token=str(worn.lease_token), category="bot_error", reason="x"
    )

    assert_error(completed, 403, "bot_inactive")
    assert_error(failed, 403, "bot_inactive")
    assert [stored(fresh), stored(worn)] == before


def test_only_the_deactivated_bots_leases_end(content_pool, bot, other_bot):
    mine = AccountFactory(platform="instagram")
    theirs = AccountFactory(platform="tiktok")
    WarmupPhaseFactory(account=mine, content_assigned=True)
    WarmupPhaseFactory(account=theirs, content_assigned=True)
    held_by_me = claim_on("instagram", bot)
    held_by_other = claim_on("tiktok", other_bot)

    bot_deactivate(name=bot.name)

    assert reload(held_by_me).status == S.CONTENT_ASSIGNED
    still = reload(held_by_other)
    assert still.status == S.IN_PROGRESS and still.lease_token == held_by_other.lease_token


def test_deactivating_again_ends_nothing_more(content_pool, bot):
    WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    phase_claim(bot=bot)
    assert len(bot_deactivate(name=bot.name).leases_ended) == 1

    again = bot_deactivate(name=bot.name)

    assert again.leases_ended == [] and again.bot.is_active is False


def test_the_escalation_names_who_deactivated_the_bot(two_leases, bot, reviewer):
    _, worn = two_leases

    bot_deactivate(name=bot.name, actor=Actor.for_user(reviewer))

    escalation = ReviewLog.objects.get(phase=worn, action=ReviewAction.ESCALATED)
    assert escalation.actor_user == reviewer


def test_a_bot_without_leases_is_just_deactivated(db):
    idle = BotFactory()

    done = bot_deactivate(name=idle.name)

    idle.refresh_from_db()
    assert done.leases_ended == [] and idle.is_active is False
