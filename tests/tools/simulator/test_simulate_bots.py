"""simulate_bots end to end: simulated bots talk HTTP to a live server, and what the summary
reports is what the database holds afterwards."""

import _thread
import os
import re
import signal
import threading
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
import requests
import time_machine
from django.core.management import CommandError
from django.test import override_settings
from rest_framework.settings import api_settings

from reviews.models import ReviewLog
from tests.builders import first_phase, reload
from tests.factories import AccountFactory
from tests.tools.simulator.conftest import TTYStringIO, simulate, summary
from tests.waiting import wait_until
from tools.demo.fixtures import ensure_fast_plan
from warmup.domain.choices import ReviewAction
from warmup.models import AttemptOutcome, Bot, CompletionMethod, PhaseAttempt, PhaseStatus
from warmup.models import WarmupPhase as Phase
from warmup.services.bots import bot_create, bot_deactivate
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db(transaction=True)

S = PhaseStatus


def ready_accounts(count: int, plan=None):
    """`count` accounts whose first phase is ready to claim, on the demo's simulation plan
    (or `plan`)."""
    accounts = AccountFactory.create_batch(count, plan=plan or ensure_fast_plan())
    assert tick().assigned == count
    return accounts


def test_the_summary_matches_what_the_bots_did_to_the_database(server_url, content_pool):
    # given six claimable phases
    ready_accounts(6)

    # when two bots make three claims each, failing half of them
    output = simulate(
        *("--url", server_url, "--bots", "2", "--cycles", "3", "--think", "0"),
        *("--fail-rate", "0.5", "--mix", "network_error=1,challenge_required=1"),
        *("--nonretryable-rate", "0", "--seed", "2", "--quiet"),
    )

    # then every counter of the summary is what the database shows
    counts = summary(output)
    attempts = PhaseAttempt.objects.all()
    assert counts["claims"] == 6 == attempts.count()
    assert counts["completions"] == attempts.filter(outcome=AttemptOutcome.COMPLETED).count()
    assert counts["completions"] == (
        Phase.objects.filter(status=S.COMPLETED, completion_method=CompletionMethod.BOT).count()
    )
    failed = attempts.filter(outcome=AttemptOutcome.FAILED)
    assert counts["failures"] == failed.count()
    by_category = Counter(failed.values_list("failure_category", flat=True))
    assert {
        key.split(":")[1]: value for key, value in counts.items() if key.startswith("failures:")
    } == dict(by_category)
    assert counts["escalations"] == Phase.objects.filter(status=S.REVIEW_REQUIRED).count()
    assert counts["escalations"] == ReviewLog.objects.filter(action=ReviewAction.ESCALATED).count()
    assert counts["retries scheduled"] == (
        Phase.objects.filter(status=S.CONTENT_ASSIGNED, retry_count=1).count()
    )
    # and the run did both things the mix asks for, with nothing going wrong over HTTP
    assert counts["completions"] >= 1 and counts["failures"] >= 1
    assert set(by_category) <= {"network_error", "challenge_required"}
    assert counts["hangs"] == counts["409 lease lost"] == counts["other HTTP errors"] == 0
    assert counts["connection errors"] == counts["abandoned reports"] == 0
    # every report came from one of the two simulated bots; none is left in progress
    assert set(attempts.values_list("bot__name", flat=True)) == {
        "simulated-bot-1",
        "simulated-bot-2",
    }
    assert not Phase.objects.filter(status=S.IN_PROGRESS).exists()
    assert "stopped because every bot made its claims" in output


def test_a_failure_reported_not_retryable_goes_to_review_even_in_a_retryable_category(
    server_url, content_pool
):
    ready_accounts(2)

    output = simulate(
        *("--url", server_url, "--bots", "1", "--cycles", "2", "--think", "0", "--quiet"),
        *("--fail-rate", "1", "--mix", "network_error=1", "--nonretryable-rate", "1"),
    )

    counts = summary(output)
    assert counts["failures:network_error"] == 2
    assert counts["escalations"] == 2 and counts["retries scheduled"] == 0
    in_review = Phase.objects.filter(status=S.REVIEW_REQUIRED)
    assert in_review.count() == 2
    assert set(in_review.values_list("last_failure_category", flat=True)) == {"network_error"}
    assert all(phase.last_failure_details["simulated"] for phase in in_review)


def test_a_hung_claim_stays_in_progress_until_the_scheduler_expires_its_lease(
    server_url, content_pool
):
    # given one claimable phase and a bot of the simulator's name from an earlier run
    (account,) = ready_accounts(1)
    existing, old_token = bot_create(name="simulated-bot-1", simulated=True)

    # when the bot claims and never reports
    output = simulate(
        *("--url", server_url, "--bots", "1", "--cycles", "1", "--hang-rate", "1.0"),
        *("--think", "0"),
    )

    # then the bot was reused with a new token, and the phase is left in progress
    counts = summary(output)
    assert counts["claims"] == counts["hangs"] == 1
    assert counts["completions"] == counts["failures"] == 0
    assert "Reusing 1 bot(s)" in output
    assert list(Bot.objects.values_list("pk", flat=True)) == [existing.pk]
    old = requests.post(
        f"{server_url}/api/v1/bot/phases/claim/",
        json={},
        headers={"Authorization": f"Bearer {old_token}"},
        timeout=5,
    )
    assert old.status_code == 401
    phase = reload(first_phase(account))
    assert phase.status == S.IN_PROGRESS and phase.bot_id == existing.pk
    attempt = phase.attempts.get()
    assert attempt.finished_at is None and attempt.outcome == ""

    # when the lease runs out and the scheduler ticks
    with time_machine.travel(phase.lease_expires_at + timedelta(seconds=1)):
        report = tick()

    # then the hang became a lease_expired failure, retried by policy
    assert report.expired == 1
    phase = reload(phase)
    assert phase.status == S.CONTENT_ASSIGNED
    assert phase.last_failure_category == "lease_expired" and phase.retry_count == 1
    assert phase.attempts.get().outcome == AttemptOutcome.LEASE_EXPIRED


def test_a_throttled_bot_waits_for_retry_after_instead_of_hammering(server_url, simulation_plan):
    # given a server that allows each bot one request a day (rates count per clock window: a
    # minute's window could turn over during the run and allow a second request)
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "bot": "1/day"}
    with override_settings(
        REST_FRAMEWORK={**api_settings.user_settings, "DEFAULT_THROTTLE_RATES": rates}
    ):
        output = simulate(
            *("--url", server_url, "--bots", "1", "--duration", "2", "--cycles", "50"),
            "--quiet",
        )

    # then: one 204 (nothing to do), one 429, then a wait the end of the run cut short
    counts = summary(output)
    assert counts["idle polls (204)"] == 1
    assert counts["429 throttled"] == 1
    assert counts["other HTTP errors"] == 0
    assert "stopped because the duration ran out" in output  # not after the day's wait


def test_ctrl_c_stops_the_bots_and_prints_the_summary_while_the_server_is_down(
    simulation_plan, closed_url
):
    # given a run with no limit against a server that is not (yet) up, on a terminal
    out = TTYStringIO()
    interrupt = threading.Timer(1.2, _thread.interrupt_main)
    interrupt.start()
    try:
        output = simulate("--url", closed_url, "--bots", "2", "--think", "0", stdout=out)
    finally:
        interrupt.cancel()

    # then the unreachable server was retried, not fatal, and Ctrl-C ended it cleanly
    counts = summary(output)
    assert counts["connection errors"] >= 2
    assert counts["claims"] == 0
    assert "until Ctrl-C" in output
    assert "stopped because interrupted (Ctrl-C)" in output
    # and the progress line was rewritten in place
    assert "\r[" in output and "unreachable" in output


def test_progress_lines_and_whichever_limit_comes_first(simulation_plan, closed_url):
    # given both limits: more cycles than can happen, and a short duration
    output = simulate(
        *("--url", closed_url, "--bots", "1", "--cycles", "100", "--duration", "0.7"),
        *("--progress-every", "0.2"),
    )

    assert "for 100 claims per bot or 0.7 s" in output
    assert "stopped because the duration ran out" in output
    progress = [line for line in output.splitlines() if line.startswith("[")]
    assert len(progress) >= 2
    assert all("claims 0 |" in line and "unreachable" in line for line in progress)
    assert "\r" not in output


def test_a_deactivated_bot_of_that_name_is_refused_up_front(simulation_plan):
    bot_create(name="simulated-bot-1", simulated=True)
    bot_deactivate(name="simulated-bot-1")

    with pytest.raises(CommandError, match="Bot 'simulated-bot-1' is deactivated"):
        simulate("--url", "http://127.0.0.1:9", "--bots", "1", "--cycles", "1")


def test_sigterm_stops_the_bots_cleanly(simulation_plan, closed_url):
    # SIGTERM is sent only once the command has installed its handler: before that, the
    # default action would end the test process itself.
    # It goes once the bot has met the closed port at least once (its progress line says so).
    original = signal.getsignal(signal.SIGTERM)
    out = StringIO()
    gave_up = []

    def bot_has_tried():
        return signal.getsignal(signal.SIGTERM) is not original and re.search(
            r"unreachable [1-9]", out.getvalue()
        )

    def terminate_once_handled():
        try:
            wait_until(bot_has_tried, 8, "the handler and a first connection error")
        except AssertionError as exc:
            gave_up.append(exc)
        else:
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=terminate_once_handled)
    sender.start()
    try:
        # (--duration only bounds the test if the signal never comes)
        simulate("--url", closed_url, "--bots", "1", "--duration", "10",
                 "--progress-every", "0.05", stdout=out)  # fmt: skip
    finally:
        sender.join()

    assert not gave_up, gave_up
    output = out.getvalue()
    assert "stopped because terminated (SIGTERM)" in output
    counts = summary(output)
    assert counts["claims"] == 0 and counts["connection errors"] >= 1
    assert signal.getsignal(signal.SIGTERM) is original  # the handler was put back
