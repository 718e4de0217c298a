"""Retry policy: per failure category from settings, overridable per PhaseTemplate."""

from __future__ import annotations

import random
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import Protocol

from django.conf import settings

from warmup.domain.choices import FailureCategory

# No retry waits longer than this, whatever the settings say: a delay is a date the database
# must store, and a month without an attempt is a case for a person anyway.
MAX_DELAY_SECONDS = 30 * 24 * 3600

# Upper bounds of override values (validated in the admin).
OVERRIDE_LIMITS = {
    "max_retries": 100,
    "backoff_base": MAX_DELAY_SECONDS,
    "backoff_factor": 10,
    "backoff_cap": MAX_DELAY_SECONDS,
}


class HasRetryOverrides(Protocol):
    """A plan step (PhaseTemplate) as the policy sees it: only its overrides. The models
    validate overrides with this module, so it names no model."""

    retry_overrides: dict


_DEFAULTS = {
    "retryable": False,
    "max_retries": 0,
    "backoff_base": 60.0,
    "backoff_factor": 2.0,
    "backoff_cap": 3600.0,
    "jitter": 0.0,
}


@dataclass(frozen=True)
class RetryPolicy:
    retryable: bool
    max_retries: int
    backoff_base: float  # seconds before the first retry
    backoff_factor: float
    backoff_cap: float  # seconds; no delay exceeds cap * (1 + jitter)
    jitter: float  # fraction: the delay is drawn uniformly from [d*(1-j), d*(1+j)]

    def backoff(self, retry_number: int, *, rng: random.Random | None = None) -> timedelta:
        """Delay before retry `retry_number` (1-based): exponential, capped, then jittered."""
        if retry_number < 1:
            raise ValueError("retry_number is 1-based")
        cap = min(self.backoff_cap, MAX_DELAY_SECONDS)
        try:
            base = min(cap, self.backoff_base * self.backoff_factor ** (retry_number - 1))
        except OverflowError:
            base = cap
        if self.jitter:
            base *= (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return timedelta(seconds=min(max(0.0, base), 2 * MAX_DELAY_SECONDS))

    def allows_retry(self, *, retry_count: int, reported_retryable: bool | None = True) -> bool:
        """Whether a failure after `retry_count` retries so far gets another automatic retry."""
        if not self.retryable or reported_retryable is False:
            return False
        return retry_count < self.max_retries


_FIELD_NAMES = {f.name for f in fields(RetryPolicy)}


_TYPES = {
    "retryable": (bool,),
    "max_retries": (int,),
    "backoff_base": (int, float),
    "backoff_factor": (int, float),
    "backoff_cap": (int, float),
    "jitter": (int, float),
}


def validate_overrides(overrides) -> None:
    """Raise ValueError unless `overrides` is {category: {policy key: value}} with sane values."""
    if not isinstance(overrides, dict):
        raise ValueError("retry overrides must be an object keyed by failure category")
    for category, values in overrides.items():
        if category not in FailureCategory.values:
            raise ValueError(f"unknown failure category {category!r}")
        if not isinstance(values, dict):
            raise ValueError(f"{category}: expected an object of policy keys")
        for key, value in values.items():
            if key not in _FIELD_NAMES:
                raise ValueError(f"{category}: unknown retry policy key {key!r}")
            kinds = _TYPES[key]
            if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
                raise ValueError(f"{category}.{key}: expected {kinds[-1].__name__}")
            if key != "retryable" and value < 0:
                raise ValueError(f"{category}.{key}: must not be negative")
            if key == "jitter" and value >= 1:
                raise ValueError(f"{category}.jitter: must be below 1")
            if key in OVERRIDE_LIMITS and value > OVERRIDE_LIMITS[key]:
                raise ValueError(f"{category}.{key}: at most {OVERRIDE_LIMITS[key]}")


def _known(values: dict) -> dict:
    # Unknown keys were refused when the template was validated; ignore any that slipped in
    # rather than failing a bot's report.
    return {key: value for key, value in values.items() if key in _FIELD_NAMES}


def policy_for(category: str, template: HasRetryOverrides | None = None) -> RetryPolicy:
    """The policy for a failure category, with the template's overrides applied."""
    if category not in FailureCategory.values:
        raise ValueError(f"unknown failure category {category!r}")
    configured = settings.WARMUP_RETRY_POLICY.get(category, {})
    policy = RetryPolicy(**{**_DEFAULTS, **_known(configured)})
    if template is not None and isinstance(template.retry_overrides, dict):
        override = template.retry_overrides.get(category)
        if isinstance(override, dict) and override:
            policy = replace(policy, **_known(override))
    return policy
