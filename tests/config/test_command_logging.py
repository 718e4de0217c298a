"""A management command run at a terminal prints what it did, not a log line per status change:
commands log at WARNING unless `-v 2` (or LOG_LEVEL) asks for more; the servers keep INFO."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.logs import default_level

ROOT = Path(__file__).resolve().parents[2]
MANAGE = str(ROOT / "manage.py")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A migrated SQLite file: the commands run in child processes, as an operator runs them."""
    path = tmp_path_factory.mktemp("commands") / "migrated.sqlite3"
    result = manage("migrate", "--noinput", database=f"sqlite:///{path}")
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def database(migrated, tmp_path) -> str:
    """A fresh copy of the migrated database for each test."""
    copy = tmp_path / "db.sqlite3"
    shutil.copyfile(migrated, copy)
    return f"sqlite:///{copy}"


def manage(*args: str, database: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_", "LOG_"))
    }
    environment.update(DEBUG="1", DATABASE_URL=database, LOG_FORMAT="json", **env)
    return subprocess.run(
        [sys.executable, MANAGE, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def status_lines(stderr: str) -> list[dict]:
    found = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "phase_status_changed":
            found.append(record)
    return found


def seed(database: str, *options: str, **env: str) -> subprocess.CompletedProcess:
    result = manage(
        "seed_demo", "--accounts", "6", "--live", "2", *options, database=database, **env
    )
    assert result.returncode == 0, result.stderr
    return result


def test_seed_demo_prints_its_summary_and_no_status_line_by_default(database):
    result = seed(database)

    assert "Accounts: enrolled 6 demo accounts" in result.stdout
    assert status_lines(result.stderr) == []
    assert result.stderr.strip() == ""


@pytest.mark.parametrize(
    ("options", "env"),
    [(("-v", "2"), {}), (("--verbosity=3",), {}), ((), {"LOG_LEVEL": "INFO"})],
    ids=["-v 2", "--verbosity=3", "LOG_LEVEL=INFO"],
)
def test_more_verbosity_or_log_level_info_brings_the_status_lines_back(database, options, env):
    result = seed(database, *options, **env)

    lines = status_lines(result.stderr)
    assert lines, result.stderr[-2000:]
    assert all(line["level"] == "info" for line in lines)
    assert {"content_assigned", "in_progress", "review_required"} <= {line["to"] for line in lines}


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        (["manage.py", "seed_demo"], "WARNING"),
        (["manage.py", "resolve_reviews", "--all"], "WARNING"),
        (["manage.py", "seed_demo", "-v", "2"], "INFO"),
        (["manage.py", "seed_demo", "-v2"], "INFO"),
        (["manage.py", "seed_demo", "--verbosity", "3"], "INFO"),
        (["manage.py", "seed_demo", "-v", "0"], "WARNING"),
        (["/srv/app/manage.py", "runserver", "0.0.0.0:8000"], "INFO"),
        (["manage.py", "run_demo", "--port", "8001"], "INFO"),
        (["manage.py", "warmup_tick", "--loop", "--interval", "5"], "INFO"),
        (["manage.py", "warmup_tick"], "WARNING"),
        (["/usr/bin/django-admin", "seed_demo"], "WARNING"),
        (["/venv/bin/gunicorn", "config.wsgi:application"], "INFO"),
        (["manage.py"], "INFO"),
        ([], "INFO"),
    ],
)
def test_the_default_level_of_each_kind_of_process(argv, level):
    assert default_level(argv) == level
