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


def test_the_mail_server_comes_from_the_environment_with_a_timeout_always():
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "from django.conf import settings as s; "
        "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD, "
        "s.EMAIL_USE_TLS, s.EMAIL_TIMEOUT)"
    )
    environment = {**os.environ, "DEBUG": "1"}
    configured = {
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_PORT": "587",
        "EMAIL_HOST_USER": "warmup",
        "EMAIL_HOST_PASSWORD": "s3cret",
        "EMAIL_USE_TLS": "1",
        "EMAIL_TIMEOUT": "5",
    }
    unset = {k: v for k, v in environment.items() if not k.startswith("EMAIL_")}

    given = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**unset, **configured},
        capture_output=True,
        text=True,
    )
    default = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=unset, capture_output=True, text=True
    )

    assert given.stdout.split() == ["smtp.example.com", "587", "warmup", "s3cret", "True", "5.0"]
    assert default.stdout.split()[-1] == "10.0"  # no mail server may hold the scheduler
