"""The simulator follows the README's advice to bot developers: a report answered 503 (the
database was unavailable) is retried with the same lease token, after Retry-After when the
server gives one and with a growing pause when it does not; a claim answered 503 is retried
too. Against a fake bot API that answers from a script."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools.simulator import SimulatedBot, SimulationConfig, Stats

LEASE = "6f1c0e1e-8d3c-4a39-9b58-0d1f3a2b7c11"
PHASE = {"id": 17, "status": "in_progress", "lease_token": LEASE, "attempt": 1}
UNAVAILABLE = (
    503,
    {"code": "database_unavailable", "detail": "The database was unavailable; retry."},
)


class FakeBotAPI:
    """Answers POSTs under /api/v1/bot/ from `script` (path ending -> answers in order; the
    last one repeats) and records (path, body, monotonic time) for each request."""

    def __init__(self, script: dict[str, list]):
        self.script = {suffix: list(answers) for suffix, answers in script.items()}
        self.requests: list[tuple[str, dict, float]] = []
        self.lock = threading.Lock()

    def answer(self, path: str, body: dict) -> tuple[int, dict, dict | None]:
        with self.lock:
            self.requests.append((path, body, time.monotonic()))
            for suffix, answers in self.script.items():
                if path.endswith(suffix):
                    entry = answers.pop(0) if len(answers) > 1 else answers[0]
                    break
            else:
                entry = (404, {"code": "not_found", "detail": path})
        status, data, *headers = entry
        return status, (headers[0] if headers else {}), data

    def posted(self, suffix: str) -> list[tuple[dict, float]]:
        return [(body, at) for path, body, at in self.requests if path.endswith(suffix)]


@pytest.fixture
def fake_api() -> Iterator[callable]:
    """Start a fake bot API with a script: `fake_api(script)` -> (api, base URL)."""
    servers: list[ThreadingHTTPServer] = []

    def start(script: dict[str, list]):
        api = FakeBotAPI(script)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, headers, data = api.answer(self.path, body)
                payload = b"" if data is None else json.dumps(data).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return api, f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def run_one_cycle(url: str, *, fail: bool = False, timeout: float = 30) -> Stats:
    """One simulated bot, one claim, no thinking and no heartbeats; its stats."""
    config = SimulationConfig(
        url=url,
        fail_rate=1.0 if fail else 0.0,
        nonretryable_rate=0.0,
        hang_rate=0.0,
        think=0.0,
        cycles=1,
        seed=1,
    )
    stats, stop = Stats(), threading.Event()
    bot = SimulatedBot(name="sim-1", token="t", config=config, stats=stats, stop=stop)
    thread = threading.Thread(target=bot.run, daemon=True)
    thread.start()
    thread.join(timeout)
    stop.set()
    thread.join(5)
    assert not thread.is_alive(), "the simulated bot did not finish"
    assert bot.fatal is None, bot.fatal
    return stats


def claim_then(report: str, answers: list) -> dict[str, list]:
    return {
        "phases/claim/": [(200, PHASE), (204, None)],
        "heartbeat/": [(200, {"lease_expires_at": "2026-12-06T16:00:00Z"})],
        f"{report}/": answers,
    }


def test_a_completion_answered_503_is_retried_after_retry_after_with_the_same_lease(fake_api):
    api, url = fake_api(
        claim_then("complete", [(*UNAVAILABLE, {"Retry-After": "1"}), (200, PHASE)])
    )

    stats = run_one_cycle(url).snapshot()

    sent = api.posted("/complete/")
    assert len(sent) == 2
    assert [body["lease_token"] for body, _ in sent] == [LEASE, LEASE]
    assert sent[0][0] == sent[1][0]  # the same report, word for word
    assert sent[1][1] - sent[0][1] >= 0.9  # Retry-After: 1 was honoured
    assert stats["completions"] == 1
    assert stats["abandoned"] == 0
    assert stats["errors"] == 0


def test_a_failure_report_answered_503_without_retry_after_is_retried_with_backoff(fake_api):
    outcome = {"outcome": "retry_scheduled", "status": "content_assigned"}
    api, url = fake_api(claim_then("fail", [UNAVAILABLE, UNAVAILABLE, (200, outcome)]))

    stats = run_one_cycle(url, fail=True).snapshot()

    sent = api.posted("/fail/")
    assert len(sent) == 3
    assert {body["lease_token"] for body, _ in sent} == {LEASE}
    assert sent[0][0] == sent[1][0] == sent[2][0]
    first_pause, second_pause = sent[1][1] - sent[0][1], sent[2][1] - sent[1][1]
    assert first_pause > 0.2
    assert second_pause > first_pause  # backing off
    assert stats["failures"] == 1
    assert stats["abandoned"] == 0
    assert stats["errors"] == 0


def test_a_claim_answered_503_is_retried_after_retry_after(fake_api):
    script = claim_then("complete", [(200, PHASE)])
    script["phases/claim/"] = [(*UNAVAILABLE, {"Retry-After": "1"}), (200, PHASE), (204, None)]
    api, url = fake_api(script)

    stats = run_one_cycle(url).snapshot()

    claims = api.posted("/claim/")
    assert claims[1][1] - claims[0][1] >= 0.9
    assert stats["claims"] == 1
    assert stats["completions"] == 1
    assert stats["errors"] == 0
