"""The bot API against an attacker-style client: what a bot learns about phases it never held,
bodies past the size limit (declared or chunked), and a Redis that refuses or never answers.

The report tests run on SQLite (the ORM path) and on PostgreSQL (a completion takes the
one-statement hot path first), and must give the same answers on both.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.http import HttpResponse
from django.test import override_settings
from django.test.client import ClientHandler
from django.utils.dateparse import parse_datetime

from config import cache as config_cache
from config.api.parsers import MAX_BODY_BYTES
from tests.builders import first_phase, reload
from tests.clients import CLAIM, assert_error, claim, phase_url, report
from tests.factories import AccountFactory, WarmupPhaseFactory
from warmup.domain.errors import PHASE_NOT_VISIBLE
from warmup.models import PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.services.tick import tick

S = PhaseStatus
REPORTS = {
    "heartbeat": {},
    "complete": {"result": {"probe": True}},
    "fail": {"category": "network_error", "reason": "probe"},
}


def claimed(client) -> dict:
    response = claim(client)
    assert response.status_code == 200, response.content
    return response.json()


def stored_rows(phase_id: int) -> dict:
    """What a refused report must not change: the phase row and its attempts."""
    return {
        "phase": WarmupPhase.objects.filter(pk=phase_id).values().get(),
        "attempts": list(PhaseAttempt.objects.filter(phase_id=phase_id).values().order_by("id")),
    }


def not_held_answer(response, phase_id: int) -> dict:
    """The answer to a report on a phase this bot never held: exactly the one for a phase
    that does not exist (404 not_found, the same words, no status)."""
    body = assert_error(response, 404, "not_found")
    assert body == {"code": "not_found", "detail": PHASE_NOT_VISIBLE.format(phase_id=phase_id)}
    return body


# --- 8. Reports on phases a bot never held --------------------------------------------------


def phase_in(status: str, *, holder) -> WarmupPhase:
    """A first phase of a new account in `status`, claimed (if ever) by `holder` only."""
    return WarmupPhaseFactory(account=AccountFactory(), bot=holder, status=status)


@pytest.mark.parametrize("action", list(REPORTS))
@pytest.mark.parametrize(
    "status", [S.CONTENT_ASSIGNED, S.IN_PROGRESS, S.REVIEW_REQUIRED, S.COMPLETED, S.PENDING]
)
def test_a_report_on_a_phase_the_bot_never_held_reads_as_no_such_phase(
    db, content_pool, bot, other_bot, other_bot_api, action, status
):
    # given: a phase in `status` that only `bot` ever worked on, and a phase id that is free
    phase = phase_in(status, holder=bot)
    before = stored_rows(phase.pk)
    missing = WarmupPhase.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000

    # when: another bot reports on both with a lease token of its own making
    token = str(uuid.uuid4())
    on_phase = report(other_bot_api, phase.pk, action, lease_token=token, **REPORTS[action])
    on_nothing = report(other_bot_api, missing, action, lease_token=token, **REPORTS[action])

    # then: the same answer for both (the ids aside); the phase's status is not told
    answer = not_held_answer(on_phase, phase.pk)
    assert not_held_answer(on_nothing, missing) == {
        **answer,
        "detail": PHASE_NOT_VISIBLE.format(phase_id=missing),
    }
    assert "current_status" not in on_phase.json()
    assert stored_rows(phase.pk) == before


@pytest.mark.parametrize("action", list(REPORTS))
def test_a_leaked_lease_token_tells_another_bot_nothing(account, bot_api, other_bot_api, action):
    # given: my phase in progress under my lease
    WarmupPhaseFactory(account=account, content_assigned=True)
    held = claimed(bot_api)
    before = stored_rows(held["id"])

    # when: another bot reports with my (leaked) token
    response = report(
        other_bot_api, held["id"], action, lease_token=held["lease_token"], **REPORTS[action]
    )

    # then: no such phase, as far as it can tell; my lease is untouched
    not_held_answer(response, held["id"])
    assert stored_rows(held["id"]) == before
    assert (
        report(bot_api, held["id"], "heartbeat", lease_token=held["lease_token"]).status_code == 200
    )


@pytest.mark.parametrize("action", list(REPORTS))
def test_the_bot_that_held_a_phase_still_learns_its_status(
    account, bot, bot_api, other_bot_api, clock, action
):
    # given: I claimed the phase; it expired, was retried and another bot claimed it again
    WarmupPhaseFactory(account=account, content_assigned=True)
    mine = claimed(bot_api)
    wrong = report(bot_api, mine["id"], action, lease_token=str(uuid.uuid4()), **REPORTS[action])
    # a wrong token while I hold it: 409 with the status
    assert assert_error(wrong, 409, "lease_lost")["current_status"] == "in_progress"
    clock.move_to(parse_datetime(mine["lease_expires_at"]) + timedelta(seconds=1))
    expired = report(
        bot_api, mine["id"], action, lease_token=mine["lease_token"], **REPORTS[action]
    )
    assert assert_error(expired, 409, "lease_lost")["current_status"] == "in_progress"
    tick()
    phase = reload(first_phase(account))
    clock.move_to(phase.next_attempt_at + timedelta(seconds=1))
    theirs = claimed(other_bot_api)
    assert theirs["id"] == mine["id"]
    before = stored_rows(mine["id"])

    # when: I report late with my old lease, and with a random token
    for token in (mine["lease_token"], str(uuid.uuid4())):
        response = report(bot_api, mine["id"], action, lease_token=token, **REPORTS[action])

        # then: 409 lease_lost with the phase's status, as before; nothing changes
        body = assert_error(response, 409, "lease_lost")
        assert body["current_status"] == "in_progress"
    assert stored_rows(mine["id"]) == before


# --- 9. Bodies past the limit, declared or chunked ------------------------------------------


def wsgi_post(path: str, body: bytes, *, token: str, chunked: bool) -> HttpResponse:
    """POST `body` through Django's WSGI handler as a server hands it over: with its
    Content-Length, or chunked (no Content-Length; the server de-chunks it into wsgi.input,
    as gunicorn does), which the test client cannot send."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "HTTP_HOST": "testserver",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    else:
        environ["CONTENT_LENGTH"] = str(len(body))
    # The test client's handler: Django's own, without closing the test's connection.
    return ClientHandler(enforce_csrf_checks=False)(environ)


def json_of(response: HttpResponse) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    return json.loads(response.content)


def padded(size: int) -> bytes:
    """A JSON document of `size` bytes."""
    head = b'{"platforms": ["instagram"], "pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 3 * 1024 * 1024])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_gets_413_payload_too_large(bot, size, chunked):
    response = wsgi_post(CLAIM, padded(size), token=bot.token, chunked=chunked)

    assert response.status_code == 413, response.content[:300]
    body = json_of(response)
    assert body["code"] == "payload_too_large"
    assert f"{MAX_BODY_BYTES // 1024} KiB" in body["detail"]


def test_a_chunked_report_is_read_not_taken_as_empty(account, bot, bot_api):
    # given: a phase I hold
    WarmupPhaseFactory(account=account, content_assigned=True)
    held = claimed(bot_api)

    # when: I report it done with a chunked body (no Content-Length)
    body = json.dumps({"lease_token": held["lease_token"], "result": {"post": "p1"}}).encode()
    response = wsgi_post(phase_url(held["id"], "complete"), body, token=bot.token, chunked=True)

    # then: the report is read and accepted
    assert response.status_code == 200, response.content[:300]
    assert json_of(response)["status"] == "completed"
    attempt = PhaseAttempt.objects.get(phase_id=held["id"])
    assert attempt.result == {"post": "p1"}


def test_a_body_at_the_limit_is_read(account, bot):
    WarmupPhaseFactory(account=account, content_assigned=True)
    for chunked in (False, True):
        response = wsgi_post(CLAIM, padded(MAX_BODY_BYTES), token=bot.token, chunked=chunked)
        assert response.status_code in (200, 204), response.content[:300]


# --- 12. Redis refused or hanging -------------------------------------------------------------

UNREACHABLE_WITHIN = 8  # seconds a bot request may take while Redis hangs (2 s socket timeouts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def hanging_redis():
    """A Redis that accepts connections and never answers: its URL (database 11)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            held.append(connection)  # read nothing, answer nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/11"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    server.close()


@contextmanager
def redis_at(url: str, *, bot_rate: str = "3/minute"):
    """The cache as settings make it for REDIS_URL=`url`, and a bot rate to count."""
    rest = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"bot": bot_rate}}
    caches = config_cache.caches_for(url)
    config_cache.forget_outages()
    with override_settings(CACHES=caches, REST_FRAMEWORK=rest):
        try:
            yield
        finally:
            config_cache.forget_outages()


def timed_claim(client) -> tuple[object, float]:
    started = time.monotonic()
    response = claim(client)
    return response, time.monotonic() - started


@pytest.mark.parametrize("redis", ["refused", "hanging"])
def test_without_redis_bots_keep_working_and_the_rate_counts_in_the_process(
    bot, bot_api, other_bot_api, hanging_redis, caplog, redis
):
    url = f"redis://127.0.0.1:{free_port()}/11" if redis == "refused" else hanging_redis
    caplog.set_level(logging.WARNING, logger="config.cache")
    with redis_at(url):
        # when: a bot asks for work while Redis refuses connections or never answers
        first, took = timed_claim(bot_api)

        # then: it is answered (nothing to claim), not 500, within the socket timeouts
        assert first.status_code == 204, first.content[:300]
        assert took < UNREACHABLE_WITHIN
        # ... and one line says so, naming Redis's address (never its password)
        [line] = [r for r in caplog.records if r.name == "config.cache"]
        assert "127.0.0.1" in line.getMessage()
        assert "in this process" in line.getMessage()

        # the next requests do not wait on Redis again
        for _ in range(2):
            response, took = timed_claim(bot_api)
            assert response.status_code == 204
            assert took < 1
        # the bot rate still holds, counted in this process
        response = claim(bot_api)
        assert_error(response, 429, "throttled")
        assert int(response["Retry-After"]) > 0
        assert claim(other_bot_api).status_code == 204


def test_when_redis_answers_again_the_rate_counts_there(bot_api, caplog, monkeypatch):
    local = redis.Redis.from_url(LOCAL_REDIS, socket_timeout=2)
    try:
        local.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {LOCAL_REDIS}")
    caplog.set_level(logging.INFO, logger="config.cache")
    monkeypatch.setattr(config_cache, "RETRY_REDIS_SECONDS", 0)
    with redis_at(LOCAL_REDIS, bot_rate="100/minute"):
        # given: Redis refuses a connection
        with monkeypatch.context() as refusing:
            refusing.setattr(redis.connection.Connection, "connect", refuse)
            assert claim(bot_api).status_code == 204
        assert "unreachable" in caplog.text

        # when: it answers again
        local.flushdb()
        assert claim(bot_api).status_code == 204

        # then: the count is in Redis, and a line says Redis is back
        assert local.keys("*throttle_bot*")
        assert "answers again" in caplog.text
        local.flushdb()


LOCAL_REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/11"


def refuse(connection):
    raise redis.ConnectionError("Connection refused (test)")
