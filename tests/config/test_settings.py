"""Settings come from the environment; production refuses to start without a secret."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_settings(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    environment.update(env)
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "from django.conf import settings; "
        "print(settings.DEBUG, settings.DATABASES['default']['ENGINE'], settings.TIME_ZONE, "
        "settings.USE_TZ, ','.join(settings.ALLOWED_HOSTS))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_without_debug_a_missing_secret_key_refuses_to_start():
    result = load_settings(DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_debug_runs_with_a_development_key_on_sqlite_by_default():
    result = load_settings(DEBUG="1", DATABASE_URL="")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "django.db.backends.sqlite3",
        "UTC",
        "True",
        "localhost,127.0.0.1",
    ]


def test_production_settings_read_database_url_and_allowed_hosts():
    result = load_settings(
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://u@db.example:5432/warmup",
        ALLOWED_HOSTS="warmup.example, api.example",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "django.db.backends.postgresql",
        "UTC",
        "True",
        "warmup.example,api.example",
    ]
