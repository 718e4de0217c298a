"""The environment variables the project reads, one row each: the one source of the settings
reference in the documentation (docs/hooks.py renders it as docs/generated/settings.md), which a
test holds to config/settings.py (every variable read there has a row). Plain data: no Django.

Each row: the variables it covers, their default, and what they mean, in Markdown. A link is
written from the documentation's root (`operators.md#pgbouncer`); the renderer makes it relative.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EnvSetting:
    names: tuple[str, ...]
    default: str
    meaning: str
    # Where it is read, when not by the settings module (the Makefile's serve target, tests).
    read_by: str = "config/settings.py"


SETTINGS: tuple[EnvSetting, ...] = (
    EnvSetting(
        ("DATABASE_URL",),
        "`sqlite:///<project>/db.sqlite3`",
        "e.g. `postgres://user@host:5432/warmup`",
    ),
    EnvSetting(
        ("DATABASE_POOLED",),
        "off",
        "`1` when `DATABASE_URL` is a pooler in transaction mode "
        "([PgBouncer](operators.md#pgbouncer)): no startup options, no server-side cursors, the "
        "bots' statements unprepared",
    ),
    EnvSetting(
        ("DATABASE_PREPARED_STATEMENTS",),
        "on; off with `DATABASE_POOLED`",
        "`1` behind a pooler that keeps prepared statements (PgBouncer 1.21+ with "
        "`max_prepared_statements`)",
    ),
    EnvSetting(
        ("DATABASE_REPLICA_URL",),
        "none",
        "a streaming replica (hot standby) of `DATABASE_URL`: the "
        "[heavy reads](operators.md#a-read-replica) go there",
    ),
    EnvSetting(
        ("REPLICA_MAX_LAG_SECONDS", "REPLICA_CHECK_SECONDS"),
        "`30`, `5`",
        "a replica further behind than that is skipped (the primary answers, a log line says "
        "why); how often a process asks it how far behind it is",
    ),
    EnvSetting(("DEBUG",), "off", "`1` for development"),
    EnvSetting(
        ("SECRET_KEY",),
        "none",
        "required when `DEBUG` is off: the server refuses to start without it, or with a weak "
        "one (under 50 characters, under 5 different ones, or `django-insecure-...`); make one "
        "with `python -c 'import secrets; print(secrets.token_urlsafe(50))'`",
    ),
    EnvSetting(
        ("ALLOWED_HOSTS",),
        "`localhost,127.0.0.1` with `DEBUG`, else empty",
        "comma-separated",
    ),
    EnvSetting(
        ("BOT_RATE",),
        "`600/minute`",
        "per-bot request rate of the bot API (429 `throttled` with `Retry-After` beyond it)",
    ),
    EnvSetting(("REVIEW_RATE",), "`1200/minute`", "per-user request rate of the review API"),
    EnvSetting(
        ("AUTH_FAILURE_RATE",),
        "`60/minute`",
        "per client address, on both APIs and on `/api/schema/` and `/api/docs/` (there only a "
        "wrong token counts, not a request without one): requests without valid credentials "
        "(none, a wrong "
        "token, a deactivated bot); past it every request from that address gets 429 until the "
        "window ends, its credentials not even looked at, so tokens cannot be guessed at speed "
        "(bots behind one address share it: one with a stale token slows its neighbours)",
    ),
    EnvSetting(
        ("NUM_PROXIES",),
        "`0`",
        "how many proxies of your own in front of the app append to `X-Forwarded-For`: `0` "
        "counts `REMOTE_ADDR`; `1` behind one load balancer counts the address it saw (what a "
        "client writes in the header itself is never trusted). Used by the rate limits and the "
        "login lockout",
    ),
    EnvSetting(
        ("REDIS_URL",),
        "none: each process counts in its own memory",
        "e.g. `redis://cache.internal:6379/0`: the cache the rate limits count in, shared by "
        "every worker and host (Django's Redis cache backend). Needed with more than one server "
        "process, or each counts its own `BOT_RATE`",
    ),
    EnvSetting(
        ("LOGIN_FAILURE_LIMIT", "LOGIN_COOLOFF_MINUTES"),
        "`5`, `15`",
        "the admin login lockout (django-axes): after that many wrong passwords in a row for one "
        "username from one address, that username is refused from that address, even with the "
        "right password, for that long (each further try restarts the wait); other users and "
        "other addresses are not affected. Unlock sooner with "
        "`manage.py axes_reset_username USERNAME`",
    ),
    EnvSetting(
        ("DB_LOCK_TIMEOUT", "DB_STATEMENT_TIMEOUT"),
        "`10s`, `30s`",
        "PostgreSQL: the longest a statement waits for a row lock, and runs; past either the "
        "APIs answer 503 `database_unavailable` with `Retry-After` (nothing changed; retry). `0` "
        "turns one off. `make serve` migrates with `DB_STATEMENT_TIMEOUT=0`; give a long one-off "
        "command the same",
    ),
    EnvSetting(
        ("EMAIL_BACKEND",),
        "console",
        "Django email backend (escalation digests go to reviewers by email)",
    ),
    EnvSetting(
        ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS"),
        "`localhost`, `25`, none, none, off",
        "the mail server, with `EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend`",
    ),
    EnvSetting(
        ("EMAIL_FILE_PATH",),
        "none",
        "the folder each message is written to as a file, with "
        "`EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend` (`make demo`: "
        "`demo-mail/`)",
    ),
    EnvSetting(
        ("EMAIL_TIMEOUT",),
        "`10`",
        "seconds; a mail server that does not answer never holds the scheduler longer",
    ),
    EnvSetting(
        ("DEFAULT_FROM_EMAIL",),
        "`warmup@localhost`",
        "the sender of the escalation digests and breaker emails",
    ),
    EnvSetting(
        ("ESCALATION_WEBHOOK_URL",),
        "none",
        "when set, escalations and breaker openings are also POSTed there as JSON",
    ),
    EnvSetting(
        (
            "BREAKER_ENABLED",
            "BREAKER_WINDOW_SECONDS",
            "BREAKER_MIN_FAILURES",
            "BREAKER_COOLDOWN_SECONDS",
        ),
        "`1`, `600`, `50`, `900`",
        "the [breaker](bots.md#the-breaker): on or off, the window failures are counted in, how "
        "many failures of one kind in it open it, how long it stays open before its trial claims "
        "(`make demo` sets 60, 3 and 60 for its small fleet)",
    ),
    EnvSetting(
        ("REVIEW_LOG_CHECKPOINT_KEY",),
        "none: no checkpoints",
        "the secret the scheduler signs [review log checkpoints](security.md) with "
        "(HMAC-SHA256), and the checker verifies them with; give it to the scheduler and to "
        "whoever runs `check_warmup_integrity`, never to the database. Make one with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`; changing it makes "
        "earlier checkpoints fail to verify",
    ),
    EnvSetting(
        ("REVIEW_LOG_CHECKPOINT_SECONDS",),
        "`300`",
        "how often the scheduler signs a checkpoint: rows written since the latest one can still "
        "be cut unseen by the database's owner",
    ),
    EnvSetting(
        ("HISTORY_RETENTION_MONTHS",),
        "`13`",
        "months of attempts and review log kept in the database, the current month included "
        "(13: the current month and the 12 before it): `manage.py archive_history` archives "
        "only months older than those (unless `--force`; see "
        "[Archiving history](operators.md#archiving-history))",
    ),
    EnvSetting(("BASE_URL",), "`http://127.0.0.1:8000`", "where links in notifications point"),
    EnvSetting(
        ("LOG_LEVEL",),
        "`INFO` for the servers (gunicorn, `runserver`, `run_demo`, `warmup_tick --loop`); "
        "`WARNING` for any other management command unless it runs with `-v 2` or more",
        "the root level: the application's lines and Django's own. A command at a terminal "
        "prints its own summary, not a line per status change; `-v 2` or `LOG_LEVEL=INFO` brings "
        "those back",
    ),
    EnvSetting(
        ("LOG_FORMAT",),
        "`keyvalue` on a terminal, else `json`",
        "`json` (one object per line) or `keyvalue` (logfmt, a traceback on the lines after "
        "it); anything else refuses to start",
    ),
    EnvSetting(
        ("METRICS_TOKEN",),
        "none: `/metrics` is open",
        "when set, `/metrics` needs `Authorization: Bearer <token>` (401 without, 403 with a "
        "wrong one; both count against `AUTH_FAILURE_RATE`)",
    ),
    EnvSetting(
        ("PROMETHEUS_MULTIPROC_DIR",),
        "none",
        "a directory (made if missing) where every process writes its counters, so `/metrics` "
        "adds up all workers and the scheduler on that host; set it for both processes",
        read_by="prometheus-client and the Makefile's serve target",
    ),
    EnvSetting(
        ("WEB_CONCURRENCY",),
        "`2`",
        "`make serve`: gunicorn worker processes (about one per core)",
        read_by="Makefile",
    ),
    EnvSetting(("WEB_THREADS",), "`4`", "`make serve`: threads per worker", read_by="Makefile"),
    EnvSetting(
        ("HOST", "PORT"),
        "`127.0.0.1`, `8000`",
        "`make serve` (and `make demo`): where to listen; `HOST=0.0.0.0` behind a load balancer",
        read_by="Makefile",
    ),
    EnvSetting(
        ("GUNICORN_CMD_ARGS",),
        "none",
        "`make serve`: extra gunicorn options, e.g. `--access-logfile -`",
        read_by="gunicorn",
    ),
    EnvSetting(
        ("STATIC_ROOT",),
        "`<project>/staticfiles`",
        "where `collectstatic` puts the static files WhiteNoise serves",
    ),
    EnvSetting(
        ("HTTPS",),
        "off",
        "`1`: the site is served over HTTPS only: http is redirected (not `/metrics`), session "
        "and CSRF cookies are HTTPS-only",
    ),
    EnvSetting(
        ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"),
        "as `HTTPS`",
        "each of the three on its own",
    ),
    EnvSetting(
        ("TRUST_X_FORWARDED_PROTO",),
        "off",
        "`1` behind a load balancer that ends TLS and sets `X-Forwarded-Proto` (and drops a "
        "client's)",
    ),
    EnvSetting(
        ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD"),
        "`0` (no header); off; off",
        "HSTS max-age; with subdomains; preload (see "
        "[check --deploy](operators.md#https-and-check-deploy))",
    ),
    EnvSetting(
        ("TEST_SQLITE_NAME",),
        "none: Django's default (in memory)",
        "tests on SQLite only: a file for the test database instead, to look into it after a run",
    ),
)


def documented_names() -> set[str]:
    """Every variable some row covers."""
    return {name for setting in SETTINGS for name in setting.names}
