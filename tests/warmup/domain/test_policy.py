"""Retry policy: per-category defaults, template overrides, backoff, jitter, and what a run of
failures does to a phase until its retries are exhausted."""

import random
from dataclasses import replace
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from tests.builders import fail, reload
from tests.factories import WarmupPhaseFactory
from warmup.domain.policy import RetryPolicy, policy_for, validate_overrides
from warmup.models import FailureCategory, FailureDecision, PhaseStatus, PhaseTemplate
from warmup.services.bot_work import FailureOutcome, phase_claim

S = PhaseStatus
C = FailureCategory
MINUTE = 60

# DESIGN.md: (retryable, max_retries, first delay in seconds) per category.
DESIGN_DEFAULTS = {
    C.NETWORK_ERROR: (True, 3, 60),
    C.PROXY_ERROR: (True, 3, 60),
    C.RATE_LIMITED: (True, 3, 15 * MINUTE),
    C.BOT_ERROR: (True, 2, None),
    C.LEASE_EXPIRED: (True, 2, None),
    C.UNKNOWN: (True, 1, None),
    C.LOGIN_FAILED: (False, 0, None),
    C.CHALLENGE_REQUIRED: (False, 0, None),
    C.ACTION_BLOCKED: (False, 0, None),
    C.ACCOUNT_SUSPENDED: (False, 0, None),
    C.CONTENT_REJECTED: (False, 0, None),
}
RETRYABLE = [c for c, (retryable, _, _) in DESIGN_DEFAULTS.items() if retryable]
TO_REVIEW_AT_ONCE = [c for c, (retryable, _, _) in DESIGN_DEFAULTS.items() if not retryable]


def no_jitter(category, template=None):
    return replace(policy_for(category, template), jitter=0.0)


def run_claim(bot):
    phase = phase_claim(bot=bot)
    assert phase is not None, "the phase should be claimable now"
    return phase


# --- Defaults ----------------------------------------------------------------------------


def test_every_category_has_a_policy():
    assert set(DESIGN_DEFAULTS) == set(C.values)


@pytest.mark.parametrize("category", list(DESIGN_DEFAULTS))
def test_default_policy_per_category(category):
    retryable, max_retries, first_delay = DESIGN_DEFAULTS[category]

    policy = policy_for(category)

    assert policy.retryable is retryable
    assert policy.max_retries == max_retries
    if first_delay is not None:
        assert no_jitter(category).backoff(1) == timedelta(seconds=first_delay)


@pytest.mark.parametrize("category", [C.NETWORK_ERROR, C.PROXY_ERROR])
def test_network_and_proxy_errors_back_off_doubling_from_a_minute(category):
    policy = no_jitter(category)

    delays = [policy.backoff(n) for n in (1, 2, 3)]

    assert delays == [timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=240)]


def test_an_unknown_category_has_no_policy():
    with pytest.raises(ValueError, match="unknown failure category"):
        policy_for("cosmic_rays")


# --- Per-template overrides --------------------------------------------------------------


def test_a_template_override_changes_only_its_category_and_keys():
    template = PhaseTemplate(retry_overrides={"network_error": {"max_retries": 5}})

    overridden = policy_for(C.NETWORK_ERROR, template)

    assert overridden.max_retries == 5
    assert overridden.backoff_base == policy_for(C.NETWORK_ERROR).backoff_base
    assert policy_for(C.PROXY_ERROR, template) == policy_for(C.PROXY_ERROR)


@pytest.mark.parametrize("stored", [["max_retries", 5], "max_retries=5", {}])
def test_an_override_that_is_not_an_object_is_ignored(stored):
    # Written around validation (a raw update): a failure report still gets the settings' policy.
    template = PhaseTemplate(retry_overrides={"network_error": stored})

    assert policy_for(C.NETWORK_ERROR, template) == policy_for(C.NETWORK_ERROR)


def test_a_template_can_make_a_review_category_retryable():
    template = PhaseTemplate(
        retry_overrides={"login_failed": {"retryable": True, "max_retries": 1}}
    )

    policy = policy_for(C.LOGIN_FAILED, template)

    assert policy.allows_retry(retry_count=0)
    assert not policy.allows_retry(retry_count=1)


def test_a_template_override_applies_to_real_failures(account, bot, clock):
    # given the first step retries a challenge once, after exactly 30 s
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    template = phase.template
    template.retry_overrides = {
        "challenge_required": {
            "retryable": True,
            "max_retries": 1,
            "backoff_base": 30,
            "jitter": 0,
        }
    }
    template.save()

    # when the bot hits a challenge twice
    failed_at = timezone.now()
    first = fail(phase, bot, C.CHALLENGE_REQUIRED)
    clock.shift(timedelta(seconds=30))
    second = fail(run_claim(bot), bot, C.CHALLENGE_REQUIRED)

    # then the first is retried after 30 s and the second goes to review
    assert first.decision == FailureDecision.RETRY_SCHEDULED
    assert first.next_attempt_at == failed_at + timedelta(seconds=30)
    assert (first.retry_count, first.max_retries) == (1, 1)
    assert second.decision == FailureDecision.REVIEW_REQUIRED
    assert reload(phase).status == S.REVIEW_REQUIRED


# --- Backoff and jitter ------------------------------------------------------------------


def test_backoff_grows_by_the_factor_up_to_the_cap():
    policy = RetryPolicy(
        retryable=True,
        max_retries=10,
        backoff_base=60,
        backoff_factor=3,
        backoff_cap=1000,
        jitter=0,
    )

    delays = [policy.backoff(n).total_seconds() for n in range(1, 6)]

    assert delays == [60, 180, 540, 1000, 1000]


class Bounds:
    """A random source that always draws the highest (or lowest) value allowed."""

    def __init__(self, *, highest: bool):
        self.highest = highest

    def uniform(self, low, high):
        return high if self.highest else low


def test_no_retry_waits_longer_than_thirty_days_before_jitter():
    policy = RetryPolicy(
        retryable=True, max_retries=1, backoff_base=10**9, backoff_factor=2,
        backoff_cap=10**9, jitter=0,
    )  # fmt: skip

    assert policy.backoff(1) == timedelta(days=30)
    assert replace(policy, jitter=0.5).backoff(1, rng=Bounds(highest=True)) == timedelta(days=45)


def test_an_override_above_thirty_days_is_refused():
    thirty_days = 30 * 24 * 3600

    validate_overrides({"network_error": {"backoff_cap": thirty_days}})
    with pytest.raises(ValueError, match=f"network_error.backoff_cap: at most {thirty_days}"):
        validate_overrides({"network_error": {"backoff_cap": thirty_days + 1}})


def test_a_jitter_set_above_one_in_settings_still_gives_a_delay_from_zero_to_sixty_days():
    # Overrides refuse a jitter of 1 or more; the settings are not validated.
    policy = RetryPolicy(
        retryable=True, max_retries=1, backoff_base=60, backoff_factor=2,
        backoff_cap=10**9, jitter=1.5,
    )  # fmt: skip

    assert policy.backoff(1, rng=Bounds(highest=False)) == timedelta(0)
    assert replace(policy, backoff_base=10**9).backoff(1, rng=Bounds(highest=True)) == timedelta(
        days=60
    )


def test_a_zero_base_retries_at_once():
    policy = RetryPolicy(
        retryable=True, max_retries=3, backoff_base=0, backoff_factor=2,
        backoff_cap=3600, jitter=0,
    )  # fmt: skip

    assert [policy.backoff(n) for n in (1, 2, 3)] == [timedelta(0)] * 3


@override_settings(WARMUP_RETRY_POLICY={"network_error": {"retryable": True}})
def test_keys_missing_from_the_settings_take_the_documented_defaults():
    # A retryable category with nothing else set: no retries, then a minute doubling up to an
    # hour, without jitter.
    retryable = policy_for(C.NETWORK_ERROR)
    made_retryable = replace(retryable, max_retries=10)

    assert retryable.max_retries == 0
    assert not retryable.allows_retry(retry_count=0)
    assert [made_retryable.backoff(n) for n in (1, 2, 3, 7, 8)] == [
        timedelta(seconds=seconds) for seconds in (60, 120, 240, 3600, 3600)
    ]


@override_settings(WARMUP_RETRY_POLICY={})
def test_a_category_missing_from_the_settings_goes_to_review_at_once():
    policy = policy_for(C.NETWORK_ERROR)

    assert policy.retryable is False
    assert not policy.allows_retry(retry_count=0)


def test_backoff_counts_retries_from_one():
    with pytest.raises(ValueError):
        policy_for(C.NETWORK_ERROR).backoff(0)


@given(
    category=st.sampled_from(RETRYABLE),
    retry_number=st.integers(min_value=1, max_value=30),
    seed=st.integers(),
)
def test_jitter_stays_within_its_bounds(category, retry_number, seed):
    policy = policy_for(category)
    exact = no_jitter(category).backoff(retry_number).total_seconds()

    delay = policy.backoff(retry_number, rng=random.Random(seed)).total_seconds()

    assert policy.jitter == 0.1
    assert exact * (1 - policy.jitter) - 1e-6 <= delay <= exact * (1 + policy.jitter) + 1e-6
    assert delay <= policy.backoff_cap * (1 + policy.jitter) + 1e-6


def test_jitter_spreads_delays_and_is_reproducible_with_a_seed():
    policy = policy_for(C.NETWORK_ERROR)

    spread = {policy.backoff(1, rng=random.Random(seed)) for seed in range(50)}
    again = [policy.backoff(2, rng=random.Random(7)) for _ in range(3)]

    assert len(spread) > 40
    assert min(spread) >= timedelta(seconds=54) and max(spread) <= timedelta(seconds=66)
    assert len(set(again)) == 1


# --- Retryable flag from the bot ---------------------------------------------------------


@pytest.mark.parametrize("category", RETRYABLE)
def test_a_bot_saying_not_retryable_escalates_at_once(category, account, bot):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)

    outcome = fail(phase, bot, category, retryable=False)

    phase = reload(phase)
    assert outcome.decision == FailureDecision.REVIEW_REQUIRED
    assert phase.status == S.REVIEW_REQUIRED
    assert phase.retry_count == 0
    assert phase.attempts.get().retryable is False


@pytest.mark.parametrize("category", TO_REVIEW_AT_ONCE)
def test_a_bot_cannot_make_a_review_category_retry(category, account, bot):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)

    outcome = fail(phase, bot, category, retryable=True)

    phase = reload(phase)
    assert outcome.decision == FailureDecision.REVIEW_REQUIRED
    assert (outcome.retry_count, outcome.max_retries) == (0, 0)
    assert outcome.next_attempt_at is None
    assert phase.status == S.REVIEW_REQUIRED
    assert phase.review_required_since == outcome.review_required_since
    assert phase.last_failure_category == category


# --- Exhaustion --------------------------------------------------------------------------


@pytest.mark.parametrize("category", RETRYABLE)
def test_retries_run_out_after_max_retries_then_review(category, account, bot, clock):
    max_retries = DESIGN_DEFAULTS[category][1]
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    content = phase.content

    # given `max_retries` failures, each followed by a wait for the retry and a new claim
    for expected_retry in range(1, max_retries + 1):
        failed_at = timezone.now()
        outcome = fail(phase, bot, category, details={"try": expected_retry})

        assert isinstance(outcome, FailureOutcome)
        assert outcome.decision == FailureDecision.RETRY_SCHEDULED
        assert (outcome.retry_count, outcome.max_retries) == (expected_retry, max_retries)
        assert outcome.next_attempt_at > failed_at
        assert outcome.review_required_since is None
        assert (outcome.category, outcome.details) == (category, {"try": expected_retry})
        stored_phase = reload(phase)
        assert stored_phase.status == S.CONTENT_ASSIGNED
        assert stored_phase.retry_count == expected_retry
        assert stored_phase.next_attempt_at == outcome.next_attempt_at
        assert stored_phase.content == content

        # the retry is not claimable until its time has come
        clock.move_to(outcome.next_attempt_at - timedelta(seconds=1))
        assert phase_claim(bot=bot) is None
        clock.move_to(outcome.next_attempt_at)
        phase = run_claim(bot)

    # when the retries are used up and it fails once more
    outcome = fail(phase, bot, category)

    # then it lands in review
    phase = reload(phase)
    assert outcome.decision == FailureDecision.REVIEW_REQUIRED
    assert (outcome.retry_count, outcome.max_retries) == (max_retries, max_retries)
    assert outcome.next_attempt_at is None
    assert outcome.review_required_since == timezone.now()
    assert phase.status == S.REVIEW_REQUIRED
    assert phase.review_required_since == timezone.now()
    assert phase.attempt_count == max_retries + 1
    assert list(phase.attempts.values_list("decision", flat=True)) == [
        FailureDecision.RETRY_SCHEDULED
    ] * max_retries + [FailureDecision.REVIEW_REQUIRED]
    assert phase_claim(bot=bot) is None


def test_network_error_backoff_doubles_across_real_retries(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    delays = []

    for _ in range(3):
        failed_at = timezone.now()
        outcome = fail(phase, bot, C.NETWORK_ERROR)
        delays.append((outcome.next_attempt_at - failed_at).total_seconds())
        clock.move_to(outcome.next_attempt_at)
        phase = run_claim(bot)

    for delay, exact in zip(delays, (60, 120, 240), strict=True):
        assert exact * 0.9 <= delay <= exact * 1.1


def test_rate_limited_waits_about_fifteen_minutes(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)

    outcome = fail(phase, bot, C.RATE_LIMITED)

    wait = outcome.next_attempt_at - timezone.now()
    assert timedelta(minutes=13.5) <= wait <= timedelta(minutes=16.5)
