"""Fixtures for the simulator: a live server the simulated bots talk to, and the summary they
print, parsed the way an operator reads it."""

from __future__ import annotations

import re
import socket
import threading
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

from tools.demo.fixtures import ensure_fast_plan


@pytest.fixture
def server_url(live_server, default_plan):
    """The live server's URL, with throttle counters cleared.

    With an in-memory SQLite test database, pytest-django hands the server threads the test's
    one connection object; two requests in flight would interleave their transactions on it.
    SQLite serialises writers anyway, so there the server answers one request at a time.
    PostgreSQL gives each server thread its own connection and keeps real concurrency.
    """
    cache.clear()
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield live_server.url
        return
    httpd = live_server.thread.httpd
    app = httpd.get_app()
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            response = app(environ, start_response)
            try:
                body = b"".join(response)
            finally:
                if hasattr(response, "close"):
                    response.close()
        return [body]

    httpd.set_app(one_at_a_time)
    try:
        yield live_server.url
    finally:
        httpd.set_app(app)


@pytest.fixture
def simulation_plan(default_plan):
    """The demo's fast plan, marked for simulation: the plan simulate_bots works by default."""
    return ensure_fast_plan()


@pytest.fixture
def closed_url():
    """A URL nobody listens on (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class TTYStringIO(StringIO):
    def isatty(self):
        return True


def simulate(*args: str, stdout=None) -> str:
    """Run `manage.py simulate_bots ARGS` and return what it printed."""
    out = stdout if stdout is not None else StringIO()
    call_command("simulate_bots", *args, stdout=out, stderr=out)
    return out.getvalue()


SUMMARY_LINE = re.compile(r"^  (?P<label>\S.*?)\s{2,}(?P<count>\d+)(?:  (?P<note>.*))?$")


def summary(output: str) -> dict[str, int]:
    """The final summary's counters by label ('claims', 'failures', '409 lease lost', ...), and
    the failure breakdown as 'failures:<category>'."""
    text = output.rsplit("Simulated ", 1)[-1]
    counts: dict[str, int] = {}
    for line in text.splitlines():
        match = SUMMARY_LINE.match(line)
        if not match:
            continue
        counts[match["label"]] = int(match["count"])
        if match["label"] == "failures" and match["note"]:
            for part in match["note"].split(", "):
                category, number = part.rsplit(" ", 1)
                counts[f"failures:{category}"] = int(number)
    assert "claims" in counts, f"no summary in:\n{output}"
    return counts
