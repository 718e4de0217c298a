"""Request bodies as gunicorn hands them over (PostgreSQL only: the server is a process of its
own on the test database): a body over the API's limit gets 413 payload_too_large, whether it
declares its length or comes chunked, and a chunked body within the limit is read."""

from __future__ import annotations

import json

import pytest

from config.api.parsers import MAX_BODY_BYTES
from tests.conftest import requires_postgres
from tests.factories import AccountFactory, BotFactory, WarmupPhaseFactory
from tests.reliability.conftest import bot_session

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(workers=1, threads=2)


def chunks(data: bytes, size: int = 16 * 1024):
    """A body requests sends chunked (a generator has no length)."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def padded(size: int) -> bytes:
    head = b'{"platforms": ["instagram"], "pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_gunicorn_answers_a_large_body_413_payload_too_large(server, chunked):
    session = bot_session(BotFactory())
    body = padded(3 * 1024 * 1024)

    response = session.post(
        server.api("phases/claim/"),
        data=chunks(body) if chunked else body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 413, response.text[:300]
    assert response.json()["code"] == "payload_too_large"
    assert f"{MAX_BODY_BYTES // 1024} KiB" in response.json()["detail"]


def test_gunicorn_reads_a_chunked_report(server, default_plan, content_pool):
    bot = BotFactory()
    session = bot_session(bot)
    WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    held = session.post(server.api("phases/claim/"), json={}, timeout=30)
    assert held.status_code == 200, held.text[:300]
    phase = held.json()

    body = json.dumps({"lease_token": phase["lease_token"], "result": {"chunked": True}})
    response = session.post(
        server.api(f"phases/{phase['id']}/complete/"),
        data=chunks(body.encode(), size=7),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 200, response.text[:300]
    assert response.json()["status"] == "completed"
