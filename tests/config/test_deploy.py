"""`manage.py check --deploy`: the HTTPS settings come from the environment; the defaults keep
plain http for the development server and the tests, and HTTPS=1 with HSTS answers every
warning."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {"SECRET_KEY": "deploy-check-" + "k" * 50, "ALLOWED_HOSTS": "warmup.example"}
HTTPS_SETTINGS = (
    "HTTPS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "TRUST_X_FORWARDED_PROTO",
)


def deploy_warnings(**env) -> set[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "DJANGO_SETTINGS_MODULE", *HTTPS_SETTINGS)
    }
    environment.update(PRODUCTION, **env)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    return set(re.findall(r"security\.W\d+", result.stdout + result.stderr))


def test_by_default_the_https_warnings_remain_so_plain_http_keeps_working():
    assert deploy_warnings() == {
        "security.W004",  # no HSTS
        "security.W008",  # no redirect to https
        "security.W012",  # session cookie also over http
        "security.W016",  # CSRF cookie also over http
    }


def test_https_turns_on_the_redirect_and_secure_cookies():
    assert deploy_warnings(HTTPS="1") == {"security.W004"}


def test_https_with_hsts_leaves_no_warning():
    assert not deploy_warnings(
        HTTPS="1",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
    )


def test_the_test_settings_speak_plain_http(settings):
    assert not settings.SECURE_SSL_REDIRECT
    assert not settings.SESSION_COOKIE_SECURE
    assert settings.SECURE_HSTS_SECONDS == 0
    assert settings.SECURE_REDIRECT_EXEMPT == [r"^metrics$"]


@pytest.mark.django_db
def test_with_the_redirect_on_http_goes_to_https_but_metrics_stay_on_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.METRICS_TOKEN = ""

    redirected = client.get("/admin/login/")

    assert redirected.status_code == 301
    assert redirected["Location"] == "https://testserver/admin/login/"
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_behind_a_balancer_that_ends_tls_its_forwarded_proto_counts(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    assert client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="http").status_code == 301


# What docs/operators.md's "Running in production" exports, with a key made as it says.
README_PRODUCTION = {
    "DATABASE_URL": "postgres://warmup@db.internal:5432/warmup",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SECRET_KEY": "Vq3" + "k9_-Zx2LpT0wYb7Nc4Rj" * 3,
    "ALLOWED_HOSTS": "warmup.example.com",
    "HTTPS": "1",
    "TRUST_X_FORWARDED_PROTO": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "NUM_PROXIES": "1",
}


def test_the_documented_production_environment_passes_check_deploy_at_warning_level():
    # No DJANGO_* of the test run (the browser tests allow async-unsafe calls, which the
    # deploy check rightly refuses).
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", *HTTPS_SETTINGS) and not k.startswith("DJANGO_")
    }
    environment.update(README_PRODUCTION)

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
