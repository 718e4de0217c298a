"""What the fault and load tests share: a plan that keeps phases flowing in seconds, and the
production web server (gunicorn) serving the test database, for tests over real HTTP.

The server is a separate process on the test database, so it sees only committed rows: the
tests that use it are transactional (and PostgreSQL only, as SQLite's test database lives in
the test process's memory).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import factory
import pytest
import requests
from django.db import connection

from tests.factories import BotFactory, ContentItemFactory
from warmup.models import PhaseTemplate, WarmupPlan

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
START_TIMEOUT = 60  # seconds for gunicorn to answer; 2 shared cores
SERVER_APP_NAME = "warmup-reliability-server"  # the server's connections, in pg_stat_activity

# --- A plan that moves in seconds -----------------------------------------------------------

RETRYABLE = (
    "network_error",
    "proxy_error",
    "rate_limited",
    "bot_error",
    "lease_expired",
    "unknown",
)
# Retries come back within a second, so a failed phase is soon claimable again.
QUICK_RETRIES = {
    category: {"backoff_base": 0.1, "backoff_factor": 2.0, "backoff_cap": 1.0, "jitter": 0.0}
    for category in RETRYABLE
}
# (phase_type, requires_content, delay after the previous phase)
QUICK_STEPS = [
    ("profile_bio", True, timedelta(0)),
    ("avatar", True, timedelta(milliseconds=200)),
    ("follow_accounts", False, timedelta(0)),
    ("first_post", True, timedelta(milliseconds=200)),
    ("first_story", True, timedelta(0)),
]


class WarmupPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WarmupPlan

    slug = factory.Sequence(lambda n: f"quick-{n}")
    name = factory.Sequence(lambda n: f"Quick plan {n}")


class PhaseTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhaseTemplate

    plan = factory.SubFactory(WarmupPlanFactory)
    order = factory.Sequence(lambda n: n + 1)
    phase_type = factory.Sequence(lambda n: f"step_{n}")
    name = factory.LazyAttribute(lambda t: t.phase_type.replace("_", " ").capitalize())
    requires_content = True
    delay = timedelta(0)
    lease_duration = timedelta(seconds=2)
    retry_overrides = factory.LazyFunction(lambda: dict(QUICK_RETRIES))


def quick_plan(*, lease: timedelta) -> WarmupPlan:
    """A five-step plan with steps at most 0.2 s apart, leases of `lease` and retries within a
    second, with content for every step that takes some."""
    plan = WarmupPlanFactory()
    for order, (phase_type, requires_content, delay) in enumerate(QUICK_STEPS, start=1):
        PhaseTemplateFactory(
            plan=plan,
            order=order,
            phase_type=phase_type,
            requires_content=requires_content,
            delay=delay,
            lease_duration=lease,
        )
        if requires_content:
            ContentItemFactory.create_batch(3, phase_type=phase_type)
    return plan


# --- The production server on the test database ---------------------------------------------


@dataclass(frozen=True)
class Server:
    base: str
    log: Path
    pid: int = 0  # gunicorn's master (its process group: the workers are in it)

    def api(self, path: str) -> str:
        return f"{self.base}/api/v1/bot/{path}"

    def tail(self) -> str:
        return self.log.read_text()[-5000:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_database_url() -> str:
    """The URL of the database this test run made, naming the server's connections."""
    db = connection.settings_dict
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or "5432"
    return (
        f"postgresql://{user}{password}@{host}:{port}/{db['NAME']}"
        f"?application_name={SERVER_APP_NAME}"
    )


def server_env() -> dict[str, str]:
    """The environment of a production process (the server, a scheduler loop, a command) on
    the test database."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "PROMETHEUS_", "PYTEST_"))
    }
    env.update(
        DEBUG="0",
        SECRET_KEY="reliability-test-" + "k" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=server_database_url(),
        BOT_RATE="1000000/minute",  # the load is the point here, not the rate limit
        LOG_FORMAT="json",
        LOG_LEVEL="WARNING",
    )
    return env


@pytest.fixture(scope="module")
def start_server(tmp_path_factory, django_db_setup):
    """Start gunicorn (gthread, as `make serve` runs it) on the test database: call it with the
    number of workers and threads; every server started is stopped after the module."""
    processes: list[subprocess.Popen] = []

    def start(*, workers: int, threads: int) -> Server:
        tmp_path = tmp_path_factory.mktemp("server")
        port = free_port()
        env = server_env()
        log = tmp_path / "server.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [
                    str(VENV / "bin" / "gunicorn"),
                    "config.wsgi:application",
                    f"--bind=127.0.0.1:{port}",
                    f"--workers={workers}",
                    "--worker-class=gthread",
                    f"--threads={threads}",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        processes.append(process)
        server = Server(base=f"http://127.0.0.1:{port}", log=log, pid=process.pid)
        wait_until_up(process, server)
        return server

    yield start
    for process in processes:
        stop(process)


def wait_until_up(process: subprocess.Popen, server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited ({process.returncode}):\n{server.tail()}")
        try:
            # Unauthenticated: a 401 proves the app answers without touching the database.
            requests.post(server.api("phases/claim/"), timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or its first answer is slow on a busy machine
        if time.monotonic() > deadline:
            pytest.fail(f"gunicorn did not answer within {START_TIMEOUT} s:\n{server.tail()}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def bot_session(bot) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {bot.token}"
    return session


@pytest.fixture
def http_bots() -> Iterator[callable]:
    """Make bots with a requests session each: `http_bots(n)` -> [(bot, session)]."""
    sessions: list[requests.Session] = []

    def make(count: int):
        pairs = [(bot, bot_session(bot)) for bot in BotFactory.create_batch(count)]
        sessions.extend(session for _, session in pairs)
        return pairs

    yield make
    for session in sessions:
        session.close()
