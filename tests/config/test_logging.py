"""Logs: one structured line per status change, saying who (bot or user) and in which batch,
written only for changes that commit; and with DEBUG off a server error's traceback in the log,
in either format."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import structlog
from django.db import transaction
from rest_framework.test import APIClient

from config.logs import formatter
from tests.builders import fail, first_phase, reload
from tests.clients import CLAIM, report, review_url
from tests.factories import UserFactory, api_token_key
from warmup.models import PhaseStatus
from warmup.services.bot_work import phase_claim
from warmup.services.resolutions import review_resume
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lines(caplog):
    """The status-change lines written so far, as the JSON format writes them."""
    caplog.set_level(logging.INFO, logger="warmup.state")
    render = formatter("json")

    def read() -> list[dict]:
        return [json.loads(render.format(r)) for r in caplog.records if r.name == "warmup.state"]

    return read


def moves(found: list[dict]) -> list[tuple]:
    return [(line["from"], line["to"]) for line in found]


# --- One line per status change ----------------------------------------------------------


def test_a_bot_and_a_reviewer_each_show_in_the_lines_of_the_moves_they_made(
    bot, bot_api, reviewer, account, lines, django_capture_on_commit_callbacks
):
    tick()
    # when a bot claims over the API and reports a failure that needs a person
    with django_capture_on_commit_callbacks(execute=True):
        claimed = bot_api.post(CLAIM, {}, format="json").json()
        report(
            bot_api,
            claimed["id"],
            "fail",
            lease_token=claimed["lease_token"],
            category="challenge_required",
            reason="SMS code asked",
        )
    by_bot = lines()

    # then one line per move, naming the bot, the phase, the account and the failure
    assert moves(by_bot) == [
        (PhaseStatus.CONTENT_ASSIGNED, PhaseStatus.IN_PROGRESS),
        (PhaseStatus.IN_PROGRESS, PhaseStatus.REVIEW_REQUIRED),
    ]
    claim_line, escalation = by_bot
    assert escalation == {
        "event": "phase_status_changed",
        "phase": claimed["id"],
        "account": account.pk,
        "from": "in_progress",
        "to": "review_required",
        "category": "challenge_required",
        "bot": bot.name,
        "logger": "warmup.state",
        "level": "info",
        "timestamp": escalation["timestamp"],
    }
    assert claim_line["category"] is None  # a claim has no failure behind it
    assert claim_line["bot"] == bot.name and "user" not in claim_line

    # when a reviewer resolves it over the review API (a session, as beside the admin)
    reviewer_api = APIClient()
    reviewer_api.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer_api.post(
            review_url(claimed["id"], "resolve"),
            {"action": "resume", "reason_code": "solved_challenge", "note": "Code entered"},
            format="json",
        )
    assert response.status_code == 200, response.content

    # then the line names the reviewer, and nothing of the bot's earlier request is left
    resumed = lines()[-1]
    assert (resumed["from"], resumed["to"]) == ("review_required", "available")
    assert resumed["user"] == reviewer.username
    assert resumed["category"] == "challenge_required"
    assert "bot" not in resumed


def test_a_user_authenticated_by_an_api_token_is_named(
    reviewer, account, bot, lines, django_capture_on_commit_callbacks
):
    tick()
    phase = phase_claim(bot=bot)
    structlog.contextvars.clear_contextvars()
    token_api = APIClient()
    token_api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_key(reviewer)}")

    with django_capture_on_commit_callbacks(execute=True):
        response = token_api.post(
            "/api/v1/reviews/hold/", {"phase": phase.pk, "note": "Looks odd"}, format="json"
        )

    assert response.status_code == 200, response.content
    held = lines()[-1]
    assert (held["from"], held["to"]) == ("in_progress", "review_required")
    assert held["user"] == reviewer.username  # known only once DRF had read the token


def test_an_account_status_change_is_one_line_too(
    account, lines, django_capture_on_commit_callbacks
):
    lead = UserFactory(lead=True)
    lead_api = APIClient()
    lead_api.force_login(lead)

    with django_capture_on_commit_callbacks(execute=True):
        response = lead_api.post(
            f"/api/v1/reviews/accounts/{account.pk}/pause/", {"note": "Owner asked"}, format="json"
        )

    assert response.status_code == 200, response.content
    paused = [line for line in lines() if line["event"] == "account_status_changed"]
    assert len(paused) == 1
    assert {k: paused[0][k] for k in ("account", "from", "to", "user")} == {
        "account": account.pk,
        "from": "active",
        "to": "paused",
        "user": lead.username,
    }


def test_a_batch_bound_by_a_command_is_on_each_line(
    account, bot, reviewer_actor, lines, django_capture_on_commit_callbacks
):
    tick()
    fail(phase_claim(bot=bot), bot, "challenge_required")

    # when a bulk command binds its batch and resolves
    with django_capture_on_commit_callbacks(execute=True):
        with structlog.contextvars.bound_contextvars(batch="resolve-2024-06-01-1"):
            review_resume(
                phase_id=first_phase(account).pk,
                reason_code="other",
                note="bulk",
                actor=reviewer_actor,
            )

    resumed = lines()[-1]
    assert (resumed["to"], resumed["batch"]) == ("available", "resolve-2024-06-01-1")
    assert "batch" not in structlog.contextvars.get_contextvars()


def test_a_move_that_is_rolled_back_writes_no_line(
    account, bot, lines, django_capture_on_commit_callbacks
):
    tick()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            phase_claim(bot=bot)
            raise RuntimeError("the request died after the claim")

    assert lines() == []
    assert reload(first_phase(account)).status == PhaseStatus.CONTENT_ASSIGNED


def test_the_keyvalue_format_writes_the_move_on_one_line(
    account, bot, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="warmup.state")
    with django_capture_on_commit_callbacks(execute=True):
        tick()
        with structlog.contextvars.bound_contextvars(bot=bot.name):
            phase = phase_claim(bot=bot)
    record = [r for r in caplog.records if r.name == "warmup.state"][-1]

    line = formatter("keyvalue").format(record)

    assert "\n" not in line
    assert line.split(" ")[1:4] == [
        "level=info",
        "logger=warmup.state",
        "event=phase_status_changed",
    ]
    assert f"phase={phase.pk} account={account.pk} from=content_assigned to=in_progress" in line
    assert f"bot={bot.name}" in line


# --- Django's own errors, DEBUG off --------------------------------------------------------

# A server process with the real settings, DEBUG off, and a view that raises.
SERVER_ERROR_SCRIPT = textwrap.dedent(
    """
    import os
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    django.setup()

    from django.test import Client, override_settings
    from django.urls import path

    def explode(request):
        raise RuntimeError("the proxy pool caught fire")

    urlpatterns = [path("explode/", explode)]

    with override_settings(ROOT_URLCONF="__main__"):
        response = Client(raise_request_exception=False).get("/explode/")
    print("STATUS", response.status_code)
    """
)


@pytest.mark.parametrize("log_format", ["json", "keyvalue"])
def test_with_debug_off_a_server_error_writes_its_traceback_to_the_log(log_format, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LOG_"))}
    env.update(
        DEBUG="0",
        SECRET_KEY="log-test-" + "k" * 50,
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        STATIC_ROOT=str(tmp_path),
        LOG_FORMAT=log_format,
        PYTHONPATH=str(ROOT),  # the script lives in tmp_path
    )
    script = tmp_path / "server_error.py"
    script.write_text(SERVER_ERROR_SCRIPT)

    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.stdout.strip().endswith("STATUS 500"), result.stderr
    log = result.stderr
    if log_format == "json":
        records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        [error] = [r for r in records if r.get("logger") == "django.request"]
        assert error["level"] == "error"
        assert error["event"] == "Internal Server Error: /explode/"
        traceback = error["exception"]
    else:
        assert "level=error logger=django.request" in log
        assert 'event="Internal Server Error: /explode/"' in log
        traceback = log
    assert "Traceback (most recent call last):" in traceback
    assert 'raise RuntimeError("the proxy pool caught fire")' in traceback
    assert "RuntimeError: the proxy pool caught fire" in traceback


def test_an_unknown_log_format_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "LOG_FORMAT")}
    env.update(DEBUG="1", LOG_FORMAT="xml")
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; " + (
        "django.setup()"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert result.returncode != 0
    assert "LOG_FORMAT must be one of json, keyvalue, not 'xml'." in result.stderr
