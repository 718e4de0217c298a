from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from warmup.domain.policy import MAX_DELAY_SECONDS, policy_for
from warmup.models import PhaseTemplate


def template_with(overrides) -> PhaseTemplate:
    template = PhaseTemplate.objects.get(plan__slug="default", phase_type="first_post")
    template.retry_overrides = overrides
    return template


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([], "must be an object"),
        ({"made_up": {"max_retries": 1}}, "unknown failure category 'made_up'"),
        ({"network_error": 3}, "expected an object"),
        ({"network_error": {"retries": 3}}, "unknown retry policy key 'retries'"),
        ({"network_error": {"max_retries": "3"}}, "network_error.max_retries: expected int"),
        ({"network_error": {"max_retries": True}}, "network_error.max_retries: expected int"),
        ({"network_error": {"backoff_base": -1}}, "must not be negative"),
        ({"network_error": {"jitter": 1.5}}, "jitter: must be below 1"),
        ({"network_error": {"jitter": 1}}, "jitter: must be below 1"),  # a delay of 0 s
        ({"login_failed": {"retryable": "yes"}}, "login_failed.retryable: expected bool"),
    ],
)
def test_admin_validation_refuses_bad_overrides_with_a_message(db, overrides, message):
    with pytest.raises(ValidationError) as caught:
        template_with(overrides).full_clean()

    assert message in str(caught.value.message_dict["retry_overrides"])


def test_valid_overrides_pass_validation_and_change_the_policy(db):
    template = template_with({"network_error": {"max_retries": 5, "backoff_base": 10}})

    template.full_clean()

    policy = policy_for("network_error", template)
    assert (policy.max_retries, policy.backoff_base) == (5, 10)
    assert policy_for("proxy_error", template).max_retries == 3


def test_a_stored_unknown_key_does_not_break_a_failure_report(db):
    # Written around validation (e.g. by a raw update): the policy ignores what it can't use.
    template = template_with({"network_error": {"max_retries": 1, "bogus": 2}})

    assert policy_for("network_error", template).max_retries == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"network_error": {"max_retries": 101}}, "network_error.max_retries: at most 100"),
        ({"network_error": {"backoff_base": 1e12}}, "network_error.backoff_base: at most"),
        ({"network_error": {"backoff_cap": 1e12}}, "network_error.backoff_cap: at most"),
        ({"network_error": {"backoff_factor": 1000}}, "network_error.backoff_factor: at most 10"),
    ],
)
def test_overrides_are_bounded(db, overrides, message):
    with pytest.raises(ValidationError) as caught:
        template_with(overrides).full_clean()

    assert message in str(caught.value.message_dict["retry_overrides"])


def test_a_huge_stored_override_still_gives_a_storable_date(db):
    # Stored around validation: the delay is clamped, so `now + delay` cannot overflow.
    template = template_with(
        {"network_error": {"backoff_base": 1e12, "backoff_cap": 1e300, "backoff_factor": 1e6}}
    )
    policy = policy_for("network_error", template)

    assert policy.backoff(1) <= timedelta(seconds=2 * MAX_DELAY_SECONDS)
    assert policy.backoff(400) <= timedelta(seconds=2 * MAX_DELAY_SECONDS)


@pytest.mark.parametrize(
    "overrides",
    [
        {"network_error": {"max_retries": 0}},  # "never retry this one": zero is a value
        {"network_error": {"jitter": 0}},
        {"network_error": {"jitter": 0.5}},
        {"network_error": {"backoff_base": 0}},
        {"network_error": {"max_retries": 100}},  # exactly at each limit
        {"network_error": {"backoff_base": MAX_DELAY_SECONDS}},
        {"network_error": {"backoff_cap": MAX_DELAY_SECONDS}},
        {"network_error": {"backoff_factor": 10}},
    ],
)
def test_edge_values_of_overrides_are_valid(db, overrides):
    template = template_with(overrides)

    template.full_clean()  # raises if refused

    ((category, values),) = overrides.items()
    policy = policy_for(category, template)
    for key, value in values.items():
        assert getattr(policy, key) == value
