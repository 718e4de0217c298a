"""Settings come from the environment; production refuses to start without a secret."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import WEAK_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "production-like-key-" + "0123456789" * 4


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
        SECRET_KEY=STRONG_KEY,
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


def read_setting(expression: str, **env) -> subprocess.CompletedProcess:
    """Print one settings expression (`s` is the settings) in a fresh process with `env`."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL") and not k.startswith("DB_")
    }
    environment.update(env)
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        f"from django.conf import settings as s; print({expression})"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )


# --- A secret key a server can trust --------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "x",
        "x" * 50,  # long, but one character over and over
        "abcd" * 20,  # four different characters
        "short-but-varied-key-0123456789",
        "django-insecure-" + "0123456789abcdef" * 4,  # Django's startproject key
    ],
)
def test_without_debug_a_weak_secret_key_refuses_to_start_and_says_how_to_make_one(key):
    result = read_setting("s.SECRET_KEY", SECRET_KEY=key)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert WEAK_SECRET_KEY in result.stderr
    assert "python -c 'import secrets; print(secrets.token_urlsafe(50))'" in result.stderr


def test_a_generated_key_starts_and_debug_still_takes_a_short_one():
    generated = secrets.token_urlsafe(50)

    assert read_setting("s.SECRET_KEY", SECRET_KEY=generated).stdout.strip() == generated
    assert read_setting("s.SECRET_KEY", SECRET_KEY="dev", DEBUG="1").stdout.strip() == "dev"


# --- The shared cache ----------------------------------------------------------------------


def test_rate_limits_count_in_redis_when_redis_url_is_set_and_in_memory_otherwise():
    backend = "s.CACHES['default']['BACKEND'], s.CACHES['default'].get('LOCATION')"

    shared = read_setting(backend, DEBUG="1", REDIS_URL="redis://cache.example:6379/0")
    local = read_setting(backend, DEBUG="1")

    assert shared.stdout.split() == [
        "config.cache.FallbackRedisCache",  # Redis, or memory while it is unreachable
        "redis://cache.example:6379/0",
    ]
    assert local.stdout.split() == ["django.core.cache.backends.locmem.LocMemCache", "None"]


# --- PostgreSQL time limits ----------------------------------------------------------------

POSTGRES = "postgres://u@db.example:5432/warmup"
OPTIONS = "s.DATABASES['default'].get('OPTIONS', {}).get('options')"


def test_postgresql_connections_wait_for_a_lock_10_s_and_run_a_statement_30_s_by_default():
    result = read_setting(OPTIONS, DEBUG="1", DATABASE_URL=POSTGRES)

    assert result.stdout.strip() == "-c lock_timeout=10s -c statement_timeout=30s -c jit=off"


def test_the_time_limits_come_from_the_environment_and_0_turns_one_off():
    result = read_setting(
        OPTIONS, DEBUG="1", DATABASE_URL=POSTGRES, DB_LOCK_TIMEOUT="2500", DB_STATEMENT_TIMEOUT="0"
    )

    assert result.stdout.strip() == "-c lock_timeout=2500 -c statement_timeout=0 -c jit=off"


@pytest.mark.parametrize("value", ["10 s", "ten", "5s -c search_path=evil", "-1"])
def test_a_time_limit_that_is_not_a_duration_refuses_to_start(value):
    result = read_setting(OPTIONS, DEBUG="1", DATABASE_URL=POSTGRES, DB_LOCK_TIMEOUT=value)

    assert result.returncode != 0
    assert f"DB_LOCK_TIMEOUT={value!r} is not a PostgreSQL duration" in result.stderr


def test_sqlite_gets_no_postgresql_options():
    result = read_setting(OPTIONS, DEBUG="1")

    assert result.stdout.strip() == "None"


BREAKER = (
    "s.WARMUP_BREAKER['enabled'], s.WARMUP_BREAKER['min_failures'], "
    "int(s.WARMUP_BREAKER['cooldown'].total_seconds())"
)


def test_the_breaker_is_on_with_conservative_values_unless_the_environment_says_otherwise():
    default = read_setting(BREAKER, DEBUG="1")
    demo = read_setting(
        BREAKER,
        DEBUG="1",
        BREAKER_ENABLED="0",
        BREAKER_MIN_FAILURES="12",
        BREAKER_COOLDOWN_SECONDS="120",
    )

    assert default.stdout.strip() == "True 50 900"
    assert demo.stdout.strip() == "False 12 120"


@pytest.mark.parametrize("value", ["0", "ten", "-3", "1.5"])
def test_a_breaker_threshold_that_is_not_a_count_refuses_to_start(value):
    result = read_setting(BREAKER, DEBUG="1", BREAKER_MIN_FAILURES=value)

    assert result.returncode != 0
    assert f"BREAKER_MIN_FAILURES={value!r} is not a whole number of at least 1" in result.stderr
