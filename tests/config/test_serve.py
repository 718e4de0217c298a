"""`make serve` as production runs it: DEBUG off, a database it migrates, static files it
collects, gunicorn with two worker processes. The admin's login page and its CSS come through
it, and /metrics adds up the counters of every process (the workers and a scheduler tick run as
its own process) through PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
START_TIMEOUT = 120  # migrate and collectstatic on a fresh database first; 2 shared cores

pytestmark = [
    pytest.mark.skipif(
        not (VENV / "bin" / "gunicorn").exists(), reason="gunicorn is not installed in this venv"
    ),
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(tmp_path: Path, port: int) -> dict:
    """The environment of a production server on a SQLite file of its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "PROMETHEUS_", "METRICS_", "PYTEST_", "LOG_"))
        and k not in ("DEBUG", "DATABASE_URL", "HTTPS", "HOST")
    }
    env.update(
        DEBUG="0",
        SECRET_KEY="serve-test-" + "k" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "static"),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        LOG_FORMAT="json",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        WEB_THREADS="2",
    )
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`make serve` in its own process group; stopped with SIGTERM after the module's tests."""
    tmp_path = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = production_env(tmp_path, port)
    log = (tmp_path / "server.log").open("w")
    # -o: take the venv as installed (this very test runs in it); no pip install here.
    process = subprocess.Popen(
        ["make", "--no-print-directory", f"VENV={VENV}", "-o", f"{VENV}/.installed", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"make serve exited ({process.returncode}):\n{read(tmp_path)}")
            try:
                if requests.get(f"{base}/admin/login/", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no answer within {START_TIMEOUT} s:\n{read(tmp_path)}")
            time.sleep(0.5)
        yield {"base": base, "env": env, "tmp_path": tmp_path}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def read(tmp_path: Path) -> str:
    return (tmp_path / "server.log").read_text()[-5000:]


def tick_count(base: str) -> float:
    body = requests.get(f"{base}/metrics", timeout=10).text
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "warmup_scheduler_tick_duration_seconds_count":
                return sample.value
    raise AssertionError(f"no tick duration in /metrics:\n{body}")


def test_the_login_page_and_the_admin_css_come_through_gunicorn_with_debug_off(server):
    base = server["base"]

    login = requests.get(f"{base}/admin/login/", timeout=10)
    assert login.status_code == 200
    assert 'id="login-form"' in login.text
    # The page links the hashed copy collectstatic made; WhiteNoise serves it for a year.
    hashed = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.text)
    assert hashed, login.text[:2000]
    css = requests.get(base + hashed.group(1), timeout=10)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "max-age=315360000" in css.headers["Cache-Control"]
    assert "body" in css.text

    plain = requests.get(f"{base}/static/admin/css/base.css", timeout=10)
    assert plain.status_code == 200
    assert plain.headers["Content-Type"].startswith("text/css")
    assert "DJANGO Admin styles" in plain.text


def test_an_unknown_page_is_a_plain_404_without_debug_details(server):
    response = requests.get(f"{server['base']}/no-such-page/", timeout=10)

    assert response.status_code == 404
    assert "URLconf" not in response.text  # Django's debug 404 lists the URL patterns


def test_metrics_add_up_the_workers_and_a_scheduler_tick_run_as_its_own_process(server):
    base, env = server["base"], server["env"]
    before = tick_count(base)

    # when the scheduler ticks twice, each time in a process of its own
    for _ in range(2):
        subprocess.run(
            [sys.executable, "manage.py", "warmup_tick"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    # then every scrape, whichever worker answers it, counts both ticks
    counts = {tick_count(base) for _ in range(6)}
    assert counts == {before + 2}
