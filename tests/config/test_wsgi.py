"""The WSGI application gunicorn serves (config.wsgi): a bot API request goes through a
handler with only the middleware a bot needs (settings.BOT_API_MIDDLEWARE), and is answered
as the full chain answers it: the same status, error code and headers, 413 and 404 included.
Every other request still goes through the full chain."""

from __future__ import annotations

import io
import json

import pytest
from django.core.signals import request_started
from django.db import close_old_connections
from django.test import Client

from config import wsgi
from tests.clients import BOT, CLAIM, phase_url
from tests.factories import WarmupPhaseFactory

# What a bot request's answer carries from the middleware it keeps.
HEADERS = (
    "Content-Type",
    "Allow",
    "WWW-Authenticate",
    "Retry-After",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
)


def served(method: str, path: str, *, body: bytes = b"", token: str | None = None):
    """One request through config.wsgi.application, as gunicorn makes it: (status, headers
    as a list of pairs, content)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    answered = []

    def start_response(status, headers, exc_info=None):
        answered.append((status, headers))

    # As Django's test client does: the test's transaction holds the connection.
    request_started.disconnect(close_old_connections)
    try:
        content = b"".join(wsgi.application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
    status, headers = answered[0]
    return int(status.split()[0]), headers, content


def served_json(method: str, path: str, *, body: bytes = b"", token: str | None = None):
    """(status, headers, JSON body or None) of `served`."""
    status, headers, content = served(method, path, body=body, token=token)
    return status, dict(headers), json.loads(content) if content else None


def through_full_chain(method: str, path: str, *, body: bytes = b"", token: str | None = None):
    """The same request through Django's test client: settings.MIDDLEWARE, every one."""
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    response = Client().generic(method, path, body, content_type="application/json", **extra)
    return (
        response.status_code,
        dict(response.headers),
        json.loads(response.content) if response.content else None,
    )


def same_answer(slim, full) -> None:
    (status, headers, body), (full_status, full_headers, full_body) = slim, full
    assert status == full_status, (slim, full)
    assert {h: headers.get(h) for h in HEADERS} == {h: full_headers.get(h) for h in HEADERS}
    if full_body is not None and "code" in full_body:
        assert body == full_body
    else:
        assert (body or {}).keys() == (full_body or {}).keys()


@pytest.mark.parametrize(
    "method, path, body, token",
    [
        ("POST", CLAIM, b"{}", None),  # 401 not_authenticated
        ("POST", CLAIM, b"{}", "wb_000000000000_wrong"),  # 401 authentication_failed
        ("POST", CLAIM, b"{", "bot"),  # 400 parse_error
        ("POST", CLAIM, b'{"platforms": ["nope"]}', "bot"),  # 400 validation_error
        ("POST", CLAIM, b"x" * (65 * 1024), "bot"),  # 413 payload_too_large
        ("GET", CLAIM, b"", "bot"),  # 405 method_not_allowed
        ("POST", CLAIM, b"{}", "bot"),  # 204: nothing to claim
        ("POST", f"{BOT}/no-such-thing/", b"{}", "bot"),  # 404 not_found
        ("POST", phase_url(999_999_999, "complete"), b"{}", "bot"),  # 400 (no lease_token)
    ],
)
def test_a_bot_request_is_answered_as_the_full_chain_answers_it(bot, method, path, body, token):
    token = bot.token if token == "bot" else token
    full = through_full_chain(method, path, body=body, token=token)
    slim = served_json(method, path, body=body, token=token)
    same_answer(slim, full)


def test_a_bot_claims_and_completes_through_the_served_application(bot, account):
    WarmupPhaseFactory(account=account, content_assigned=True)
    status, headers, phase = served_json("POST", CLAIM, body=b"{}", token=bot.token)
    assert status == 200, phase
    assert phase["lease_token"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in headers

    body = json.dumps({"lease_token": phase["lease_token"]}).encode()
    status, _, done = served_json(
        "POST", phase_url(phase["id"], "complete"), body=body, token=bot.token
    )
    assert (status, done["status"]) == (200, "completed")


def test_pages_still_go_through_the_full_chain(db):
    # The admin's login form sets a CSRF cookie (CsrfViewMiddleware, which bots skip).
    status, headers, _ = served("GET", "/admin/login/")
    assert status == 200
    assert any(name == "Set-Cookie" and "csrftoken=" in value for name, value in headers)
