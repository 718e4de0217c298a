"""The bot rate holds across server processes: two separate Python processes sharing REDIS_URL
(as two gunicorn workers or two hosts do) together let a bot through no more than BOT_RATE, and
answer the rest with the API's JSON 429 and Retry-After.

Needs a Redis: skipped without REDIS_URL, except with REQUIRE_REDIS=1 (as .ci/run sets on its
PostgreSQL run), where a missing REDIS_URL fails instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")
RATE, PERIOD = 10, 86400  # "10/day": both processes run well inside one window
REQUESTS_EACH = 8

if not REDIS_URL and os.environ.get("REQUIRE_REDIS") == "1":
    raise RuntimeError("REQUIRE_REDIS=1 but REDIS_URL is not set: the shared rate is untested")

pytestmark = pytest.mark.skipif(
    not REDIS_URL,
    reason="needs a Redis shared by two processes: set REDIS_URL (e.g. redis://127.0.0.1:6379/9)",
)

# One bot API client in a process of its own: say "ready", wait for "go", claim REQUESTS_EACH
# times and print what came back.
WORKER = """
import json, os, sys
import django
django.setup()
from django.test import Client
client = Client(HTTP_AUTHORIZATION="Bearer " + os.environ["BOT_TOKEN"])
print("ready", flush=True)
sys.stdin.readline()
answers = []
for _ in range(int(os.environ["REQUESTS_EACH"])):
    r = client.post("/api/v1/bot/phases/claim/", {}, content_type="application/json")
    answers.append({
        "status": r.status_code,
        "body": r.json() if r.content else None,
        "retry_after": r.headers.get("Retry-After"),
    })
print(json.dumps(answers), flush=True)
"""


def window() -> int:
    return int(time.time() // PERIOD)


@pytest.fixture
def server_env(tmp_path):
    """The environment of a server process: its own SQLite file (migrated, with one bot), the
    shared Redis, and the bot rate under test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.test_settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=REDIS_URL,
        BOT_RATE=f"{RATE}/day",
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="ERROR",
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    made = subprocess.run(
        [*manage, "create_bot", "shared-rate"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    env["BOT_TOKEN"] = made.stdout.strip().splitlines()[-1]
    env["REQUESTS_EACH"] = str(REQUESTS_EACH)
    return env


def run_side_by_side(env: dict, count: int) -> list[dict]:
    """Start `count` worker processes, let them all get ready, then start them at once."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        answers = []
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            answers.extend(json.loads(out.strip().splitlines()[-1]))
        return answers
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


def test_two_processes_together_let_a_bot_through_no_more_than_its_rate(server_env):
    # The suite's autouse fixture has cleared the cache, here the shared Redis.
    first = window()

    answers = run_side_by_side(server_env, count=2)

    # Two windows only if the run crossed the end of a day: then each may hold the rate.
    allowed = RATE * (window() - first + 1)
    passed = [a for a in answers if a["status"] == 204]
    refused = [a for a in answers if a["status"] != 204]
    assert len(answers) == 2 * REQUESTS_EACH
    assert len(passed) == min(allowed, len(answers))
    for answer in refused:
        assert answer["status"] == 429
        assert answer["body"]["code"] == "throttled"
        assert 0 < int(answer["retry_after"]) <= PERIOD
