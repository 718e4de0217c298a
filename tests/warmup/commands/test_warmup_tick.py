import logging
import signal

import pytest
from django.core.management.base import CommandError

from tests.builders import first_phase, reload
from tests.factories import WarmupPhaseFactory
from tests.warmup.commands.conftest import run
from warmup.management.commands import warmup_tick
from warmup.models import FailureCategory, PhaseStatus
from warmup.services.tick import TickReport

pytestmark = pytest.mark.django_db


def test_one_tick_moves_phases_and_prints_its_counts(account):
    phase = first_phase(account)
    assert phase.status == PhaseStatus.AVAILABLE

    out = run("warmup_tick")

    assert reload(phase).status == PhaseStatus.CONTENT_ASSIGNED
    assert out.stdout.strip() == (
        "Tick done: expired 0, unlocked 0, assigned 1, starved 0, escalated 0."
    )


def test_a_tick_expires_a_stale_lease(account, bot, traveller):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    traveller.shift(phase.template.lease_duration * 2)

    out = run("warmup_tick")

    phase = reload(phase)
    assert phase.status == PhaseStatus.CONTENT_ASSIGNED
    assert phase.last_failure_category == FailureCategory.LEASE_EXPIRED
    assert "expired 1" in out.stdout


def test_a_phase_type_without_content_is_reported_starved(db):
    from tests.factories import AccountFactory

    AccountFactory()  # no content pool at all

    out = run("warmup_tick")

    assert "assigned 0, starved 1" in out.stdout


class StopAfter:
    """Replaces time.sleep: lets the loop sleep `n - 1` times, then presses Ctrl-C."""

    def __init__(self, n):
        self.n, self.calls = n, []

    def __call__(self, seconds):
        self.calls.append(seconds)
        if len(self.calls) >= self.n:
            raise KeyboardInterrupt


def test_loop_ticks_every_interval_until_ctrl_c_then_prints_a_summary(account, monkeypatch):
    sleep = StopAfter(3)
    monkeypatch.setattr(warmup_tick.time, "sleep", sleep)

    out = run("warmup_tick", "--loop", "--interval", "2.5")

    assert sleep.calls == [2.5, 2.5, 2.5]
    assert reload(first_phase(account)).status == PhaseStatus.CONTENT_ASSIGNED
    assert "a tick every 2.5 s" in out.lines[0]
    assert out.lines[-1] == (
        "Scheduler stopped after 3 ticks. "
        "Totals: expired 0, unlocked 0, assigned 1, starved 0, escalated 0."
    )
    # Idle ticks are not printed; the one that did something is.
    assert sum("tick " in line and "assigned 1" in line for line in out.lines) == 1


def test_a_failing_tick_in_loop_mode_is_logged_and_the_loop_goes_on(account, monkeypatch, caplog):
    real_tick = warmup_tick.tick
    calls = []

    def flaky_tick():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real_tick()

    monkeypatch.setattr(warmup_tick, "tick", flaky_tick)
    monkeypatch.setattr(warmup_tick.time, "sleep", StopAfter(2))

    with caplog.at_level(logging.ERROR, logger="warmup.scheduler"):
        out = run("warmup_tick", "--loop", "--interval", "1")

    assert len(calls) == 2
    assert "database went away" in caplog.text
    assert reload(first_phase(account)).status == PhaseStatus.CONTENT_ASSIGNED
    assert out.lines[-1].startswith("Scheduler stopped after 2 ticks (1 failed).")


def test_a_failing_single_tick_is_a_command_error(monkeypatch):
    def broken_tick():
        raise RuntimeError("database went away")

    monkeypatch.setattr(warmup_tick, "tick", broken_tick)

    with pytest.raises(CommandError, match="The tick failed: database went away"):
        run("warmup_tick")


def test_sigterm_ends_the_loop_like_ctrl_c(monkeypatch):
    monkeypatch.setattr(warmup_tick, "tick", lambda: TickReport())

    def sleep(seconds):
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(warmup_tick.time, "sleep", sleep)
    before = signal.getsignal(signal.SIGTERM)

    out = run("warmup_tick", "--loop")

    assert out.lines[-1].startswith("Scheduler stopped after 1 tick.")
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back


@pytest.mark.parametrize("interval", ["0", "-1"])
def test_the_interval_must_be_positive(interval):
    with pytest.raises(CommandError, match="--interval must be a positive number"):
        run("warmup_tick", "--loop", "--interval", interval)
