"""Faults a fleet meets in production, each played for real: a reviewer acting as a bot's late
report arrives (threads, real row locks), two scheduler ticks notifying at once, the database
connection terminated under a bot's report (over HTTP, against gunicorn), and a mail server and
a webhook that accept and never answer.

A bot that claims and dies is tested in tests/warmup/services/test_leases_and_escalation.py
(retried by the lease_expired policy, then escalated; its attempt closed as lease_expired);
`resolve_reviews` killed mid-run in tests/reviews/commands/test_resolve_reviews.py.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core import mail
from django.db import connection

from config.api.errors import DATABASE_UNAVAILABLE
from reviews.models import ReviewLog
from tests.builders import fail, reload, stored
from tests.clients import HOLD, assert_error, bot_client, phase_url, review_url, user_client
from tests.conftest import requires_postgres
from tests.connections import raw_connection
from tests.factories import AccountFactory, BotFactory, ContentItemFactory, UserFactory
from tests.integrity import assert_integrity
from tests.reliability.conftest import SERVER_APP_NAME, quick_plan
from tests.warmup.services.test_concurrency import THREAD_TIMEOUT, run_together
from warmup.domain.choices import ReviewAction
from warmup.models import (
    AttemptOutcome,
    CompletionMethod,
    FailureCategory,
    FailureDecision,
    PhaseStatus,
    WarmupPhase,
)
from warmup.services.bot_work import phase_claim
from warmup.services.tick import tick

S = PhaseStatus
ROUNDS = 8

transactional = pytest.mark.django_db(transaction=True)


def in_progress_phases(count: int, bot) -> list[WarmupPhase]:
    """`count` first phases of new accounts on the default plan, each claimed by `bot`."""
    ContentItemFactory.create_batch(2, phase_type="profile_bio")
    accounts = AccountFactory.create_batch(count)
    tick()
    phases = []
    for account in accounts:
        phase = phase_claim(bot=bot, platforms=[account.platform])
        assert phase is not None and phase.account_id == account.pk
        phases.append(phase)
    return phases


def actions_logged(phase) -> list[str]:
    logs = ReviewLog.objects.filter(phase=phase).order_by("id")
    return list(logs.values_list("action", flat=True))


# --- A reviewer acting as the bot's late report arrives (both APIs, threads) ----------------


def report_body(report: str, token) -> dict:
    if report == "complete":
        return {"lease_token": str(token)}
    return {
        "lease_token": str(token),
        "category": FailureCategory.CHALLENGE_REQUIRED,
        "reason": "Instagram asks for an SMS code",
    }


STAGGERS = [0, 0.01, 0.02, 0.04]  # seconds


@requires_postgres
@transactional
@pytest.mark.usefixtures("default_plan")
@pytest.mark.parametrize("report", ["complete", "fail"])
def test_a_reviewer_taking_over_as_the_bot_reports_leaves_one_story(report):
    bot, other_bot = BotFactory.create_batch(2)
    reviewer = UserFactory(reviewer=True)
    winners = Counter()
    for round_, phase in enumerate(in_progress_phases(ROUNDS, bot)):
        token, stagger = phase.lease_token, STAGGERS[round_ % len(STAGGERS)]

        # given a phase the bot works on; when its report reaches the bot API as a reviewer
        # puts the phase on hold through the review API (the console's first step to resolve)
        def bot_reports(phase=phase, token=token, stagger=stagger):
            # A review request does more before it reaches the row lock (session, user,
            # permissions) than a bot's: the bot starts a little later in some rounds, so
            # that each side gets to win.
            threading.Event().wait(stagger)
            return bot_client(bot).post(
                phase_url(phase.pk, report), report_body(report, token), format="json"
            )

        def reviewer_holds(phase=phase):
            return user_client(reviewer).post(
                HOLD, {"phase": phase.pk, "note": "taking over"}, format="json"
            )

        (bot_response, _), (hold_response, _) = run_together(bot_reports, reviewer_holds)

        # then exactly one of them won; the other got the API's error for losing
        assert sorted([bot_response.status_code, hold_response.status_code]) == [200, 409]
        if hold_response.status_code == 200:
            winners["reviewer"] += 1
            assert_error(bot_response, 409, "lease_lost")
            assert actions_logged(phase) == [ReviewAction.HELD]
            assert phase.attempts.get().outcome == AttemptOutcome.INTERRUPTED
            # and the reviewer's resolution stands against the bot's report sent again,
            # even once another bot has claimed the phase anew
            resolved = user_client(reviewer).post(
                review_url(phase.pk, "resolve"),
                {"action": "retry", "reason_code": "false_alarm", "note": "fine, go on"},
                format="json",
            )
            assert resolved.status_code == 200, resolved.content
            assert phase_claim(bot=other_bot, platforms=[phase.account.platform]).pk == phase.pk
            assert_error(bot_reports(), 409, "lease_lost")
            assert actions_logged(phase) == [ReviewAction.HELD, ReviewAction.RETRIED]
            assert reload(phase).bot_id == other_bot.pk
        else:
            winners["bot"] += 1
            body = assert_error(hold_response, 409, "invalid_transition")
            if report == "complete":
                assert body["current_status"] == S.COMPLETED
                assert actions_logged(phase) == []
            else:
                assert body["current_status"] == S.REVIEW_REQUIRED
                assert actions_logged(phase) == [ReviewAction.ESCALATED]
            assert phase.attempts.get().outcome in (AttemptOutcome.COMPLETED, AttemptOutcome.FAILED)
    assert sum(winners.values()) == ROUNDS
    assert_integrity()


@requires_postgres
@transactional
@pytest.mark.usefixtures("default_plan")
def test_a_replayed_failure_report_arriving_as_the_reviewer_resolves_changes_nothing():
    bot = BotFactory()
    reviewer = UserFactory(reviewer=True)
    for phase in in_progress_phases(ROUNDS, bot):
        # given a failure report that sent the phase to review, and the answer the bot got
        body = report_body("fail", phase.lease_token)
        first = bot_client(bot).post(phase_url(phase.pk, "fail"), body, format="json")
        assert first.status_code == 200 and first.json()["outcome"] == "review_required"

        # when the bot, which missed that answer, sends the report again as a reviewer
        # resolves the item with "retry now"
        def bot_replays(phase=phase, body=body):
            return bot_client(bot).post(phase_url(phase.pk, "fail"), body, format="json")

        def reviewer_retries(phase=phase):
            return user_client(reviewer).post(
                review_url(phase.pk, "resolve"),
                {"action": "retry", "reason_code": "solved_challenge", "note": "typed the code"},
                format="json",
            )

        (replay, _), (resolved, _) = run_together(bot_replays, reviewer_retries)

        # then the bot gets its first answer, the resolution stands, and each is logged once
        assert replay.status_code == 200 and replay.json() == first.json()
        assert resolved.status_code == 200, resolved.content
        phase = reload(phase)
        assert (phase.status, phase.retry_count) == (S.CONTENT_ASSIGNED, 0)
        assert actions_logged(phase) == [ReviewAction.ESCALATED, ReviewAction.RETRIED]
        assert phase.attempts.get().decision == FailureDecision.REVIEW_REQUIRED
    assert_integrity()


# --- Two ticks at once: each escalation notified once -------------------------------------


@pytest.fixture
def webhook():
    """A real HTTP endpoint on loopback that records the JSON bodies it receives."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


@requires_postgres
@transactional
@pytest.mark.usefixtures("default_plan")
def test_two_ticks_at_once_notify_each_escalation_once(settings, webhook, caplog):
    url, received = webhook
    settings.WARMUP_ESCALATION_WEBHOOK_URL = url
    settings.WARMUP_TICK_BATCH_SIZE = 3  # the two ticks interleave batch by batch
    UserFactory(reviewer=True, email="rita@example.com")
    bot = BotFactory()
    with time_machine.travel(datetime(2025, 3, 3, 9, 0, tzinfo=UTC), tick=False) as clock:
        # given 20 items in review, two hours later all due for escalation level 1
        phases = in_progress_phases(20, bot)
        for phase in phases:
            fail(phase, bot, FailureCategory.CHALLENGE_REQUIRED)
        clock.shift(timedelta(hours=2))
        mail.outbox.clear()

        # when two scheduler ticks run at the same moment
        outcomes = run_together(tick, tick)

    # then the levels rose once, and every item was in exactly one digest and one webhook call
    assert [error for _, error in outcomes] == [None, None]
    assert sum(report.escalated for report, _ in outcomes) == 20
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    in_webhooks = Counter(item["phase"] for call in received for item in call["items"])
    assert in_webhooks == Counter({phase.pk: 1 for phase in phases})
    assert len(mail.outbox) == len(received)  # one digest and one call per batch that rose
    in_emails = Counter(
        phase.pk
        for message in mail.outbox
        for phase in phases
        if f"{phase.account} {phase.phase_type} (" in message.body
    )
    assert in_emails == in_webhooks
    assert sum(int(m.subject.split()[1]) for m in mail.outbox) == 20  # "[warmup] N review ..."
    assert_integrity()


# --- A mail server and a webhook that never answer ----------------------------------------


@pytest.fixture
def silent_server():
    """A TCP listener on loopback that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


@transactional
@pytest.mark.usefixtures("default_plan")
def test_a_hung_mail_server_and_webhook_hold_the_tick_no_longer_than_their_timeouts(
    settings, monkeypatch, caplog, silent_server
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", silent_server, 1
    settings.WARMUP_ESCALATION_WEBHOOK_URL = f"http://127.0.0.1:{silent_server}/hook"
    monkeypatch.setattr("warmup.services.notifications.WEBHOOK_TIMEOUT_SECONDS", 1)
    UserFactory(reviewer=True, email="rita@example.com")
    bot = BotFactory()
    [phase] = in_progress_phases(1, bot)
    fail(phase, bot, FailureCategory.CHALLENGE_REQUIRED)
    reports = []

    # when a tick with an escalation due runs (in a thread: a hang fails the test, not the run)
    def run_tick():
        try:
            with time_machine.travel(reload(phase).review_required_since + timedelta(hours=2)):
                reports.append(tick())
        finally:
            connection.close()

    thread = threading.Thread(target=run_tick)
    thread.start()
    thread.join(THREAD_TIMEOUT)  # the timeouts are 1 s each; a minute means it hung

    # then the tick returned, raised the level, and logged both failed notices with their cause
    assert not thread.is_alive(), "the tick hung on the mail server or the webhook"
    assert [report.escalated for report in reports] == [1]
    assert reload(phase).escalation_level == 1
    failures = {r.getMessage(): r.exc_info[0] for r in caplog.records if r.levelno >= logging.ERROR}
    assert failures.keys() == {
        "Could not send the escalation email to 1 reviewers",
        f"Escalation webhook {settings.WARMUP_ESCALATION_WEBHOOK_URL} failed",
    }
    assert all(issubclass(cause, OSError) for cause in failures.values()), failures
    assert_integrity()


# --- The connection dropped under a bot's report (gunicorn, one worker thread) --------------


@pytest.fixture(scope="module")
def one_thread_server(start_server):
    """gunicorn with one worker of one thread: every request is served by the same thread,
    over the same kept-alive database connection (CONN_MAX_AGE, with health checks)."""
    return start_server(workers=1, threads=1)


@contextmanager
def row_locked(phase_id: int):
    """Hold the phase's row lock from another connection for the block."""
    with raw_connection() as other:
        other.execute("SELECT 1 FROM warmup_warmupphase WHERE id = %s FOR UPDATE", [phase_id])
        yield
        other.rollback()


def server_backends(*, waiting_for_a_lock: bool = False) -> list[int]:
    """Process ids of the server's database connections (waiting on a row lock, if asked)."""
    sql = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
    if waiting_for_a_lock:
        sql += " AND wait_event_type = 'Lock'"
    with connection.cursor() as cursor:
        cursor.execute(sql, [SERVER_APP_NAME])
        return [pid for (pid,) in cursor.fetchall()]


def wait_for(condition, what: str):
    """Poll until `condition()` is truthy (a state another process reaches), up to a minute."""
    for _ in range(600):
        if value := condition():
            return value
        threading.Event().wait(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def claimed_over_http(server, session) -> tuple[int, str]:
    account = AccountFactory(plan=quick_plan(lease=timedelta(minutes=10)))
    tick()
    response = session.post(server.api("phases/claim/"), json={}, timeout=30)
    assert response.status_code == 200, response.text
    claimed = response.json()
    assert claimed["account"]["id"] == account.pk
    return claimed["id"], claimed["lease_token"]


HTTP_REPORTS = {
    "complete": {"result": {"post_url": "https://example.com/p/1"}},
    "fail": {"category": "network_error", "reason": "proxy dropped", "details": {"errno": 104}},
}


@requires_postgres
@transactional
@pytest.mark.parametrize("report", ["complete", "fail"])
def test_a_connection_terminated_under_a_report_is_a_503_and_the_retry_counts_once(
    one_thread_server, http_bots, report
):
    server = one_thread_server
    [(bot, session)] = http_bots(1)
    phase_id, token = claimed_over_http(server, session)
    url = server.api(f"phases/{phase_id}/{report}/")
    body = {"lease_token": token, **HTTP_REPORTS[report]}
    phase = WarmupPhase.objects.get(pk=phase_id)
    before, following_before = stored(phase), stored(phase.account.phases.get(order=2))

    # given the phase's row locked elsewhere, so the bot's report waits inside its transaction
    with row_locked(phase_id), ThreadPoolExecutor(1) as pool:
        pending = pool.submit(session.post, url, json=body, timeout=THREAD_TIMEOUT)
        [pid] = wait_for(lambda: server_backends(waiting_for_a_lock=True), "the report to wait")

        # when the connection serving it is terminated
        terminate(pid)
        response = pending.result(timeout=THREAD_TIMEOUT)

        # then the bot gets a JSON 503 it can retry, and nothing of the report was written
        assert response.status_code == 503, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json() == {"code": "database_unavailable", "detail": DATABASE_UNAVAILABLE}
        assert int(response.headers["Retry-After"]) > 0
        assert stored(phase) == before
        assert stored(phase.account.phases.get(order=2)) == following_before
        assert phase.attempts.get().outcome == ""
        assert not ReviewLog.objects.filter(phase_id=phase_id).exists()
    assert "Database unavailable" in server.tail()  # the operator sees why

    # and the next request, on the same worker thread, goes through
    assert session.get(server.api(f"phases/{phase_id}/"), timeout=30).status_code == 200

    # and the bot's retry is answered as if the report had arrived once, as is a replay of it
    retried = session.post(url, json=body, timeout=30)
    assert retried.status_code == 200, retried.text
    replayed = session.post(url, json=body, timeout=30)
    assert (replayed.status_code, replayed.json()) == (200, retried.json())
    attempt = phase.attempts.get()
    assert attempt.finished_at is not None
    phase = reload(phase)
    if report == "complete":
        assert attempt.outcome == AttemptOutcome.COMPLETED
        assert attempt.result == HTTP_REPORTS["complete"]["result"]
        assert (phase.status, phase.completion_method) == (S.COMPLETED, CompletionMethod.BOT)
        assert retried.json()["status"] == S.COMPLETED
    else:
        assert attempt.outcome == AttemptOutcome.FAILED
        assert attempt.failure_category == FailureCategory.NETWORK_ERROR
        assert (phase.status, phase.retry_count) == (S.CONTENT_ASSIGNED, 1)
        assert retried.json()["outcome"] == FailureDecision.RETRY_SCHEDULED
    assert_integrity()


@requires_postgres
@transactional
def test_a_connection_dropped_between_requests_costs_the_bot_nothing(one_thread_server, http_bots):
    server = one_thread_server
    [(bot, session)] = http_bots(1)
    phase_id, token = claimed_over_http(server, session)

    # given the server's one kept-alive connection terminated while it is idle (a database
    # restart, a proxy timing out idle connections)
    [pid] = wait_for(server_backends, "the server's connection")
    terminate(pid)
    wait_for(lambda: pid not in server_backends(), "the connection to go")

    # when the bot reports; then the server reconnects and the report goes through
    response = session.post(
        server.api(f"phases/{phase_id}/complete/"), json={"lease_token": token}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == S.COMPLETED
    assert WarmupPhase.objects.get(pk=phase_id).status == S.COMPLETED
    assert_integrity()
