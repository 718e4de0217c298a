"""A simulated proxy outage: in its window every claimed phase fails with proxy_error, naming
proxies that differ but share one signature; outside it the bots keep the normal mix."""

import random
import threading
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from tools.simulator import (
    OUTAGE_DETAILS,
    OUTAGE_TOO_LONG,
    SimulatedBot,
    SimulationConfig,
    SimulatorConfigError,
    Stats,
    draw_plan,
)
from warmup.domain.signatures import signature_of

URL = "http://127.0.0.1:9"


def outage_config(**options) -> SimulationConfig:
    return SimulationConfig(url=URL, outage_every=300, outage_length=60, **options)


# --- the window --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "down"),
    [
        (0, False),
        (239.9, False),
        (240, True),
        (299.9, True),
        (300, False),
        (539.9, False),
        (540, True),
        (3599, True),
    ],
)
def test_the_outage_is_the_last_minute_of_every_five(elapsed, down):
    assert outage_config().in_outage(elapsed) is down


def test_without_outage_every_the_proxies_never_fail():
    config = SimulationConfig(url=URL)

    assert not any(config.in_outage(second) for second in range(0, 3600, 7))


# --- what the bots report ----------------------------------------------------------------


def test_during_an_outage_every_plan_is_one_proxy_failure_with_varying_addresses():
    rng = random.Random(1)
    config = outage_config(fail_rate=0.0, hang_rate=0.5)

    plans = [draw_plan(rng, config, outage=True) for _ in range(50)]

    assert {plan.fail_category for plan in plans} == {"proxy_error"}
    assert not any(plan.hang or plan.retryable for plan in plans)
    reasons = [plan.story[0] for plan in plans]
    assert len(set(reasons)) > 40
    assert all(reason.startswith("Proxy 10.20.") for reason in reasons)
    assert all(plan.story[1]["proxy"] == OUTAGE_DETAILS["proxy"] for plan in plans)
    signatures = {
        signature_of(category="proxy_error", phase_type="profile_bio", reason=reason)
        for reason in reasons
    }
    assert len(signatures) == 1


def test_outside_an_outage_the_normal_mix_is_drawn():
    rng = random.Random(2)
    config = outage_config(fail_rate=0.5)

    plans = [draw_plan(rng, config, outage=False) for _ in range(400)]

    categories = Counter(plan.fail_category for plan in plans)
    assert 120 < categories.pop(None) < 280  # about half succeed
    assert len(categories) >= 5  # the mix, not only proxies
    assert not any(plan.story[0].startswith("Proxy 10.20.") for plan in plans)


def test_an_outage_does_not_shift_later_decisions():
    config = outage_config(fail_rate=0.5)
    calm, stormy = random.Random(3), random.Random(3)

    for index in range(20):
        draw_plan(calm, config, outage=False)
        draw_plan(stormy, config, outage=index % 2 == 0)

    assert [draw_plan(calm, config) for _ in range(10)] == [
        draw_plan(stormy, config) for _ in range(10)
    ]


class FakeResponse:
    def __init__(self, status_code: int, body: dict):
        self.status_code, self.body, self.headers = status_code, body, {}

    def json(self):
        return self.body


class FakeSession:
    """A bot API of one: every claim hands out a phase; failures are recorded."""

    def __init__(self):
        self.headers, self.failures, self.claims = {}, [], 0

    def post(self, url, json, timeout):
        if url.endswith("claim/"):
            self.claims += 1
            return FakeResponse(200, {"id": self.claims, "lease_token": "t"})
        if url.endswith("fail/"):
            self.failures.append(json)
            return FakeResponse(200, {"outcome": "review_required"})
        return FakeResponse(200, {})

    def close(self):
        pass


@pytest.mark.parametrize(("elapsed", "all_proxies"), [(250.0, True), (10.0, False)])
def test_a_bot_fails_every_claim_on_the_proxy_only_during_the_outage(elapsed, all_proxies):
    config = outage_config(fail_rate=1.0, think=0, cycles=30, seed=4)
    bot = SimulatedBot(
        name="b", token="x", config=config, stats=Stats(), stop=threading.Event(),
        elapsed=lambda: elapsed,
    )  # fmt: skip
    bot.session = FakeSession()

    bot.run()

    failures = bot.session.failures
    assert len(failures) == 30 and bot.fatal is None
    proxies = [f for f in failures if f["reason"].startswith("Proxy 10.20.")]
    if all_proxies:
        assert len(proxies) == 30
        assert {f["category"] for f in failures} == {"proxy_error"}
        assert not any(f["retryable"] for f in failures)
        assert all(f["details"]["proxy"] == OUTAGE_DETAILS["proxy"] for f in failures)
    else:
        assert proxies == []
        assert len({f["category"] for f in failures}) > 1


# --- options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"outage_every": 0}, "--outage-every must be a positive number (got 0)."),
        ({"outage_every": 300, "outage_length": 0}, "--outage-length must be a positive number"),
        ({"outage_every": 60, "outage_length": 60}, OUTAGE_TOO_LONG.format(length=60, every=60)),
    ],
)
def test_a_bad_outage_is_refused(options, message):
    with pytest.raises(SimulatorConfigError) as excinfo:
        SimulationConfig(url=URL, **options)

    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outage-every", "-5"], "--outage-every must be a positive number (got -5.0)."),
        (
            ["--outage-every", "300", "--outage-length", "0"],
            "--outage-length must be a positive number (got 0.0).",
        ),
        (
            ["--outage-every", "30", "--outage-length", "60"],
            "--outage-length must be shorter than --outage-every (got 60 of 30).",
        ),
    ],
)
def test_the_command_refuses_bad_outage_options_before_any_bot_is_made(args, message):
    with pytest.raises(CommandError) as excinfo:
        call_command("simulate_bots", "--cycles", "1", *args)

    assert message in str(excinfo.value)
