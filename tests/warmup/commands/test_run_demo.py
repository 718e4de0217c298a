"""run_demo starts the web server and the scheduler as children and stops them cleanly."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.waiting import wait_until
from warmup.management.commands.run_demo import child_commands

ROOT = Path(__file__).resolve().parents[3]


def test_children_are_the_web_server_and_the_scheduler_loop():
    children = dict(child_commands(host="127.0.0.1", port=8123, bots=3, commands={}))

    assert children["web server"][1:] == [
        str(ROOT / "manage.py"), "runserver", "127.0.0.1:8123", "--noreload"
    ]  # fmt: skip
    assert children["scheduler"][2:] == ["warmup_tick", "--loop", "--interval", "5"]
    assert children["web server"][0] == sys.executable
    assert "simulated bots" not in children


def test_simulated_bots_start_only_when_the_command_exists():
    children = dict(
        child_commands(host="0.0.0.0", port=8123, bots=4, commands={"simulate_bots": "x"})
    )

    argv = children["simulated bots"]
    assert argv[2:7] == ["simulate_bots", "--url", "http://127.0.0.1:8123", "--bots", "4"]
    assert argv[7] == "--duration" and int(argv[8]) >= 24 * 3600
    assert argv[9:11] == ["--plan", "demo-fast"]  # never the scripted accounts' real plan
    no_bots = dict(child_commands(host="h", port=1, bots=0, commands={"simulate_bots": "x"}))
    assert "simulated bots" not in no_bots


def test_a_port_in_use_is_a_usage_error_before_anything_starts():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        with pytest.raises(CommandError, match=f"127.0.0.1:{port} is already in use"):
            call_command("run_demo", "--port", str(port), stdout=StringIO())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer_status(url: str, process) -> int | None:
    """The status `url` answers with, or None while nothing listens there yet."""
    assert process.poll() is None, "run_demo exited early"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None


def read_lines(stream, into: list[str]) -> threading.Thread:
    """Collect what a child prints, line by line, as it prints it."""
    reader = threading.Thread(target=lambda: into.extend(iter(stream.readline, "")), daemon=True)
    reader.start()
    return reader


def port_is_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory) -> Path:
    """A migrated SQLite file, made once; each test runs the demo on its own copy."""
    path = tmp_path_factory.mktemp("demo") / "migrated.sqlite3"
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=demo_env(path), check=True, cwd=ROOT,
                   timeout=90)  # fmt: skip
    return path


def demo_env(database: Path) -> dict:
    return {
        **os.environ,
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "PYTHONUNBUFFERED": "1",  # each line reaches the pipe when printed, not at exit
    }


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serves_the_admin_and_stops_cleanly_on_a_signal(tmp_path, migrated_db, stop_signal):
    # A real run on its own SQLite file, as `make demo` would do it.
    database = tmp_path / "demo.sqlite3"
    shutil.copy(migrated_db, database)
    mail = tmp_path / "mail"  # as `make demo` sets it: escalation emails as files, not output
    env = {
        **demo_env(database),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    port = free_port()
    process = subprocess.Popen(
        [*manage, "run_demo", "--host", "127.0.0.1", "--port", str(port), "--bots", "2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    said_ready = ["log in at", "Scheduler running"]
    out_lines: list[str] = []
    err_lines: list[str] = []
    readers = [read_lines(process.stdout, out_lines), read_lines(process.stderr, err_lines)]
    try:
        url = f"http://127.0.0.1:{port}/admin/login/"
        assert wait_until(lambda: answer_status(url, process), 40, f"{url} to answer") == 200
        # The signal only once the demo has said it runs and the scheduler loop has said so too
        # (its handler is in place by then).
        wait_until(lambda: all(any(said in line for line in out_lines) for said in said_ready),
                   30, f"run_demo to print {said_ready}")  # fmt: skip
        process.send_signal(stop_signal)
        process.wait(timeout=30)
        for reader in readers:
            reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    stdout, stderr = "".join(out_lines), "".join(err_lines)

    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert f"log in at http://127.0.0.1:{port}/admin/" in stdout
    assert f"Escalation emails are written to {mail}/, a file each." in stdout
    assert "Started the scheduler" in stdout
    assert "Scheduler stopped after" in stdout  # the loop ended with its summary
    assert stdout.rstrip().endswith("Demo stopped.")
    assert port_is_closed(port)


def test_a_child_keeps_enrolling_fresh_accounts():
    children = dict(child_commands(host="127.0.0.1", port=8123, bots=0, commands={}))

    assert children["new accounts"][2:] == ["demo_trickle", "--every", "60"]


def test_the_demo_s_bots_meet_a_proxy_outage_within_five_minutes():
    children = dict(
        child_commands(host="127.0.0.1", port=8123, bots=3, commands={"simulate_bots": "x"})
    )

    argv = children["simulated bots"]
    every = float(argv[argv.index("--outage-every") + 1])
    length = float(argv[argv.index("--outage-length") + 1])
    assert every <= 300 and 30 <= length < every
