"""Escalation notifications: a digest email to reviewers, and an optional webhook, after commit."""

import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from tests.factories import AccountFactory, UserFactory, WarmupPhaseFactory
from warmup.services.notifications import Escalation, notify_escalations
from warmup.services.resolutions import review_skip
from warmup.services.tick import tick


@pytest.fixture
def webhook():
    """A real HTTP endpoint on loopback that records what it receives."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_one_digest_email_reaches_reviewers_when_items_escalate(
    account, bot, content_pool, django_capture_on_commit_callbacks, settings
):
    settings.WARMUP_BASE_URL = "https://warmup.example"
    reviewer = UserFactory(reviewer=True, email="rita@example.com")
    UserFactory(email="staff-without-permission@example.com")
    WarmupPhaseFactory(account=account, bot=bot, in_review=True, category="challenge_required")
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True, category="login_failed")

    # when: two hours later, the tick raises both items to level 1
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        with django_capture_on_commit_callbacks(execute=True):
            tick()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [reviewer.email]
    assert message.subject == "[warmup] 2 review item(s) escalated (up to level 1)"
    assert "challenge_required" in message.body and "login_failed" in message.body
    assert "https://warmup.example/admin/reviews/reviewitem/" in message.body


def test_nothing_is_sent_when_no_level_rises(
    account, bot, content_pool, django_capture_on_commit_callbacks
):
    UserFactory(reviewer=True, email="rita@example.com")
    WarmupPhaseFactory(account=account, bot=bot, in_review=True)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tick()

    assert callbacks == []
    assert mail.outbox == []


def test_the_webhook_gets_the_escalated_items_as_json(
    account, bot, content_pool, django_capture_on_commit_callbacks, settings, webhook
):
    url, received = webhook
    settings.WARMUP_ESCALATION_WEBHOOK_URL = url
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True, category="action_blocked")

    with time_machine.travel(timezone.now() + timedelta(hours=5)):
        with django_capture_on_commit_callbacks(execute=True):
            tick()

    assert len(received) == 1
    assert received[0]["event"] == "review.escalated"
    [item] = received[0]["items"]
    assert (item["phase"], item["level"], item["category"]) == (phase.pk, 2, "action_blocked")


def test_a_dead_webhook_does_not_break_the_tick(
    account, bot, content_pool, django_capture_on_commit_callbacks, settings, caplog
):
    settings.WARMUP_ESCALATION_WEBHOOK_URL = "http://127.0.0.1:9/nothing-listens-here"
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        with django_capture_on_commit_callbacks(execute=True):
            report = tick()

    assert report.escalated == 1
    phase.refresh_from_db()
    assert phase.escalation_level == 1
    assert "Escalation webhook" in caplog.text


@pytest.fixture
def silent_mail_server():
    """A TCP listener on loopback that accepts and then never says a word (a hung SMTP server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    yield listener.getsockname()[1]
    listener.close()


def test_a_hung_mail_server_does_not_hold_the_scheduler(
    account,
    bot,
    content_pool,
    django_capture_on_commit_callbacks,
    settings,
    caplog,
    silent_mail_server,
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent_mail_server
    settings.EMAIL_TIMEOUT = 1
    UserFactory(reviewer=True, email="rita@example.com")
    WarmupPhaseFactory(account=account, bot=bot, in_review=True)

    # A tick that waited for the server forever would never return (the suite's timeout
    # would stop it); with EMAIL_TIMEOUT it returns, the escalation made and the failure logged.
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            report = tick()

    assert report.escalated == 1
    assert "Could not send the escalation email" in caplog.text


def test_each_committed_batch_sends_its_own_digest(
    account, bot, content_pool, django_capture_on_commit_callbacks, settings
):
    # With one item per batch, a batch that committed is notified even if a later one fails.
    settings.WARMUP_TICK_BATCH_SIZE = 1
    UserFactory(reviewer=True, email="rita@example.com")
    WarmupPhaseFactory(account=account, bot=bot, in_review=True, category="challenge_required")
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True, category="login_failed")

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        with django_capture_on_commit_callbacks(execute=True):
            tick()

    assert len(mail.outbox) == 2
    assert {m.subject for m in mail.outbox} == {
        "[warmup] 1 review item(s) escalated (up to level 1)"
    }


def test_an_item_resolved_before_the_notice_is_left_out_of_it(
    account, bot, content_pool, reviewer_actor
):
    UserFactory(reviewer=True, email="rita@example.com")
    waiting = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    resolved = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    review_skip(phase_id=resolved.pk, reason_code="other", note="done", actor=reviewer_actor)

    notify_escalations([Escalation(waiting.pk, 1), Escalation(resolved.pk, 1)])

    (message,) = mail.outbox
    assert str(waiting.account) in message.body
    assert str(resolved.account) not in message.body
    assert "since None" not in message.body
