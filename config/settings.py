"""Settings, read from the environment.

DATABASE_URL   default: SQLite file db.sqlite3 in the project root (the embedded default)
SECRET_KEY     required when DEBUG is off; a development default is used only while DEBUG is on
DEBUG          "1"/"true"/"yes" to turn on (default off)
ALLOWED_HOSTS  comma-separated (default: localhost,127.0.0.1 while DEBUG is on)
LOG_FORMAT     json | keyvalue (default: keyvalue on a terminal, json otherwise); LOG_LEVEL
METRICS_TOKEN  when set, /metrics needs `Authorization: Bearer <token>`; unset, it is open
HTTPS          "1" when the site is served over HTTPS: redirects http and marks cookies secure
               (each also on its own: SECURE_SSL_REDIRECT, SESSION_COOKIE_SECURE,
               CSRF_COOKIE_SECURE); SECURE_HSTS_SECONDS, TRUST_X_FORWARDED_PROTO
REDIS_URL      the cache the rate limits count in, shared by every server process (default: each
               process's memory); BOT_RATE, REVIEW_RATE, AUTH_FAILURE_RATE, NUM_PROXIES
LOGIN_FAILURE_LIMIT, LOGIN_COOLOFF_MINUTES   the admin login lockout (django-axes)
DB_LOCK_TIMEOUT, DB_STATEMENT_TIMEOUT        PostgreSQL: how long a statement may wait or run
Every variable: config/settings_doc.py (the docs' Settings page); docs/operators.md says more.
"""

import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.cache import caches_for
from config.env import (
    WEAK_SECRET_KEY,
    env_bool,
    env_count,
    env_list,
    env_pg_duration,
    env_str,
    is_weak_secret_key,
)
from config.logs import configure_structlog, default_format, default_level, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (export SECRET_KEY=... or DEBUG=1)."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"
elif not DEBUG and is_weak_secret_key(SECRET_KEY):
    # Sessions, password reset links and CSRF tokens are signed with it: a guessable key is a
    # way into the admin. Django's deploy check only warns; a server refuses to start.
    raise ImproperlyConfigured(WEAK_SECRET_KEY)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"] if DEBUG else [])

INSTALLED_APPS = [
    "config.apps.WarmupAdminConfig",  # django.contrib.admin with the project's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "django_filters",
    "django_htmx",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "warmup",
    "reviews",
]

MIDDLEWARE = [
    # First, so every line of a request, errors included, carries its context and none of the
    # previous request's.
    "config.middleware.LogContextMiddleware",
    # An API body over the limit (declared or chunked) gets 413 before anything reads it.
    "config.api.parsers.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's CSS) from STATIC_ROOT with DEBUG off, before anything else
    # spends time on them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.htmx: the console's live parts ask for fragments (django-htmx).
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A page whose database work timed out or lost its connection: 503 "try again", not 500.
    "config.middleware.DatabaseBusyMiddleware",
    # Last: answers a locked-out admin login with the lockout page (config.views).
    "axes.middleware.AxesMiddleware",
]
# The bot API (/api/v1/bot/) is served without what only browsers use (config.wsgi): its
# views read no session, cookie or admin user (DRF's views are CSRF exempt), and the NUL check
# and the busy page leave /api/ to the APIs' own answers.
BROWSER_ONLY_MIDDLEWARE = {
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.DatabaseBusyMiddleware",
    "axes.middleware.AxesMiddleware",
}
BOT_API_MIDDLEWARE = [name for name in MIDDLEWARE if name not in BROWSER_ONLY_MIDDLEWARE]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Keep a connection for a minute per server thread, and check it before reusing it
        # so a restarted database costs one reconnect, not one failed request.
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default: wait for a writer instead of failing at once, and let
    # readers work beside a writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The review queue's index carries extra columns on PostgreSQL (INCLUDE); SQLite builds it
    # without them, which is all the embedded default needs: no warning on every command.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
    DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_SQLITE_NAME", default="") or None}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A request never waits on a row lock longer than DB_LOCK_TIMEOUT (the APIs answer 503
    # database_unavailable, which a bot retries) and no statement runs longer than
    # DB_STATEMENT_TIMEOUT, so one stuck transaction cannot pile up every server thread behind
    # it. Migrations and commands get the same limits: `make serve` migrates with
    # DB_STATEMENT_TIMEOUT=0 (building an index on a big table takes longer); give a long
    # command its own with DB_STATEMENT_TIMEOUT=0 in front of it. "0" turns a limit off.
    # JIT compilation is off: the service's queries are short, and PostgreSQL compiles any
    # whose estimated cost is high, which the analytics' queries over the partitioned history
    # are (at ten million phases it spent 2.2 s compiling a dashboard query that then ran in
    # 0.25 s).
    try:
        _timeouts = (
            f"-c lock_timeout={env_pg_duration('DB_LOCK_TIMEOUT', default='10s')} "
            f"-c statement_timeout={env_pg_duration('DB_STATEMENT_TIMEOUT', default='30s')} "
            "-c jit=off"
        )
    except ValueError as error:
        raise ImproperlyConfigured(str(error)) from None
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    if not env_bool("DATABASE_POOLED", default=False):
        _options["options"] = f"{_options.get('options', '')} {_timeouts}".strip()
    else:
        # DATABASE_URL is a pooler in transaction mode (PgBouncer): a server connection serves
        # many clients one transaction at a time, so nothing may live in a session. No startup
        # options (PgBouncer does not pass them on: set the timeouts on the database, as
        # docs/operators.md shows) and no server-side cursors (they live past a transaction).
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# The bots' two statements are prepared on the server once per connection
# (warmup.services.bot_statements). Behind a pooler in transaction mode that does not keep
# prepared statements per server connection (PgBouncer before 1.21, or without
# max_prepared_statements: Debian 12's 1.18), they must not be: DATABASE_POOLED=1 turns that
# off unless DATABASE_PREPARED_STATEMENTS=1 says the pooler keeps them.
DATABASE_PREPARED_STATEMENTS = env_bool(
    "DATABASE_PREPARED_STATEMENTS", default=not env_bool("DATABASE_POOLED", default=False)
)

# A read replica for the heavy reads (config/replica.py): the dashboard, reports, analytics,
# the integrity checker and the /metrics gauges read it while it lags at most
# REPLICA_MAX_LAG_SECONDS; everything else, and all writes, use the primary.
_replica_url = env_str("DATABASE_REPLICA_URL", default="")
if _replica_url:
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs DATABASE_URL to be PostgreSQL")
    DATABASES["replica"] = dj_database_url.parse(
        _replica_url, conn_max_age=60, conn_health_checks=True
    )
    DATABASES["replica"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "connect_timeout": 3,  # a replica that does not answer is skipped, not waited for
    }
    # Tests never read it by accident: the suite's heavy reads see their own test data.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.replica.ReplicaRouter"]
try:
    REPLICA_MAX_LAG_SECONDS = env_count("REPLICA_MAX_LAG_SECONDS", default=30)
    REPLICA_CHECK_SECONDS = env_count("REPLICA_CHECK_SECONDS", default=5, least=0)
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
# collectstatic (`make serve` runs it) writes hashed, compressed copies that WhiteNoise serves
# with far-future cache headers; with DEBUG on the names stay plain and no manifest is needed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "admin:login"

# --- The admin login lockout (django-axes) -------------------------------------------------

# After LOGIN_FAILURE_LIMIT wrong passwords in a row for one username from one address, that
# username is refused from that address (even with the right password) for
# LOGIN_COOLOFF_MINUTES; each further try starts the wait again. By username *and* address, so
# an attacker cannot lock every reviewer out by trying their usernames from elsewhere. Attempts
# are rows in the database, so every server process sees them. Unlock early with
# `manage.py axes_reset_username USERNAME` (or the admin's "Access attempts").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(env_str("LOGIN_FAILURE_LIMIT", default="5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(env_str("LOGIN_COOLOFF_MINUTES", default="15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.views.login_locked_out"
# The client's address as the API rate limits see it (REMOTE_ADDR, or NUM_PROXIES back in
# X-Forwarded-For).
AXES_CLIENT_IP_CALLABLE = "config.addresses.client_ip"

EMAIL_BACKEND = env_str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", default="warmup@localhost")
# The folder messages go to with EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend
# (`make demo` writes them there instead of into its console).
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", default="")
# The mail server (with EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend). A timeout
# always: a mail server that never answers must not hold the scheduler, which sends digests.
EMAIL_HOST = env_str("EMAIL_HOST", default="localhost")
EMAIL_PORT = int(env_str("EMAIL_PORT", default="25"))
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = float(env_str("EMAIL_TIMEOUT", default="10"))

# Every record, Django's request errors (with their tracebacks) and one line per status change
# (warmup/lifecycle/state.py) included, to standard error in LOG_FORMAT: see config/logs.py.
# Without LOG_LEVEL, a management command logs at WARNING unless run with -v 2 (the servers at
# INFO): config.logs.default_level.
LOG_FORMAT = env_str("LOG_FORMAT", default=default_format()).strip().lower()
LOG_LEVEL = env_str("LOG_LEVEL", default=default_level(sys.argv))
try:
    LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None
configure_structlog()

# --- Production: metrics and HTTPS ---------------------------------------------------------

# /metrics (Prometheus) needs `Authorization: Bearer <METRICS_TOKEN>` when it is set; unset, the
# endpoint is open (restrict it at the load balancer then).
METRICS_TOKEN = env_str("METRICS_TOKEN", default="")

# HTTPS=1 says the site is served over HTTPS only: http is redirected and the session and CSRF
# cookies are sent over HTTPS only. Off by default, so the development server and the tests
# speak plain http. Behind a load balancer that ends TLS, also TRUST_X_FORWARDED_PROTO=1 (the
# balancer must set X-Forwarded-Proto and strip a client's), or every request looks like http
# and the redirect never ends.
HTTPS = env_bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=HTTPS)
if env_bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Prometheus scrapes from inside the network, often over plain http: no redirect for it.
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
# HSTS makes browsers refuse http for this host for that long: set it once HTTPS works
# (e.g. 3600, then 31536000). 0 (the default) sends no header.
SECURE_HSTS_SECONDS = int(env_str("SECURE_HSTS_SECONDS", default="0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)

# --- Warmup domain -------------------------------------------------------------------------


# Retry policy per failure category (DESIGN.md). max_retries counts automatic retries after
# the first failure (3 means up to 4 attempts). Delays in seconds; jitter is a fraction
# (0.1 = the delay is drawn from +/-10% around the exponential value). A PhaseTemplate's
# retry_overrides can change any key for any category.
def _backoff(*, max_retries: int, base: int, cap: int) -> dict:
    """A retryable category: `max_retries` automatic retries, `base` seconds doubling up to
    `cap`, drawn +/-10 %."""
    return {
        "retryable": True,
        "max_retries": max_retries,
        "backoff_base": base,
        "backoff_factor": 2.0,
        "backoff_cap": cap,
        "jitter": 0.1,
    }


_NOT_RETRYABLE = {"retryable": False, "max_retries": 0}

WARMUP_RETRY_POLICY = {
    "network_error": _backoff(max_retries=3, base=60, cap=3600),
    "proxy_error": _backoff(max_retries=3, base=60, cap=3600),
    "rate_limited": _backoff(max_retries=3, base=900, cap=4 * 3600),
    "bot_error": _backoff(max_retries=2, base=120, cap=1800),
    "lease_expired": _backoff(max_retries=2, base=60, cap=1800),
    "unknown": _backoff(max_retries=1, base=300, cap=3600),
    "login_failed": _NOT_RETRYABLE,
    "challenge_required": _NOT_RETRYABLE,
    "action_blocked": _NOT_RETRYABLE,
    "account_suspended": _NOT_RETRYABLE,
    "content_rejected": _NOT_RETRYABLE,
}

# Time in review after which an item rises to escalation level 1, 2, 3, ...
WARMUP_ESCALATION_THRESHOLDS = [timedelta(hours=1), timedelta(hours=4), timedelta(hours=24)]

# Escalation notifications: a digest email to reviewers (users with reviews.resolve_review and an
# email address) and, when set, a JSON POST to this webhook. Links point at WARMUP_BASE_URL.
WARMUP_ESCALATION_WEBHOOK_URL = env_str("ESCALATION_WEBHOOK_URL", default="")
WARMUP_BASE_URL = env_str("BASE_URL", default="http://127.0.0.1:8000")

# How many rows one scheduler step handles per batch (each batch is one transaction).
WARMUP_TICK_BATCH_SIZE = 500

# The breaker (warmup.services.breaker; docs/bots.md): when, within `window`, one failure
# signature fails at least `min_failures` times in its scope and that is at least `min_rate` of
# the scope's attempts that ended in the window, claims of the scope stop for `cooldown`; then
# `trial_claims` claims go through, and it closes when they complete. The scope is the plan
# step, narrowed to a platform and to a bot that has at least `concentration` of the failures.
# `enabled: False` turns it off: none opens, and the next scheduler tick closes any still open.
# The environment may set the switch, the window, the threshold and the cool-down (the demo
# shrinks them to its small fleet).
WARMUP_BREAKER = {
    "enabled": env_bool("BREAKER_ENABLED", default=True),
    "window": timedelta(seconds=env_count("BREAKER_WINDOW_SECONDS", default=10 * 60)),
    "min_failures": env_count("BREAKER_MIN_FAILURES", default=50),
    "min_rate": 0.5,
    "concentration": 0.8,
    "cooldown": timedelta(seconds=env_count("BREAKER_COOLDOWN_SECONDS", default=15 * 60)),
    "trial_claims": 3,
}

# Review log checkpoints (warmup.services.checkpoints; SECURITY.md): the scheduler signs one
# every REVIEW_LOG_CHECKPOINT_SECONDS with REVIEW_LOG_CHECKPOINT_KEY, a secret that lives in the
# environment only (never in the database); without the key none is written.
REVIEW_LOG_CHECKPOINT_KEY = env_str("REVIEW_LOG_CHECKPOINT_KEY", default="")
try:
    REVIEW_LOG_CHECKPOINT_SECONDS = env_count("REVIEW_LOG_CHECKPOINT_SECONDS", default=300)
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None

# Partitioned history (config/partitions.py): the database keeps this many months, the current
# month and the N - 1 before it; `manage.py archive_history` archives only months older than those
# (unless --force): with 13, in December 2026, 2025-11 and earlier.
try:
    HISTORY_RETENTION_MONTHS = env_count("HISTORY_RETENTION_MONTHS", default=13)
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None

# --- REST framework ------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "reviews.api.authentication.UserTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "config.api.errors.api_exception_handler",
    # Request rates (config/api/throttling.py), counted in the cache: per bot on the bot API,
    # per user on the review API, and per client address for requests without valid
    # credentials on either (a missing or wrong token, a deactivated bot).
    "DEFAULT_THROTTLE_RATES": {
        "bot": env_str("BOT_RATE", default="600/minute"),
        "review": env_str("REVIEW_RATE", default="1200/minute"),
        "auth_failures": env_str("AUTH_FAILURE_RATE", default="60/minute"),
    },
    # The client's address is REMOTE_ADDR unless NUM_PROXIES says how many proxies in front
    # of the app append to X-Forwarded-For (1 behind one load balancer): a client's own
    # X-Forwarded-For must not pick the address it is counted under.
    "NUM_PROXIES": int(env_str("NUM_PROXIES", default="0")),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Throttle counters live in the cache. With REDIS_URL (e.g. redis://cache.internal:6379/0) every
# server process counts in the one Redis, so a rate holds for the whole site; without it each
# process counts in its own memory (development, make demo: nothing but Python needed).
# A Redis refused or hanging does not fail requests: the process counts in its own memory
# meanwhile, with a log line (config.cache).
REDIS_URL = env_str("REDIS_URL", default="")
CACHES = caches_for(REDIS_URL)

SPECTACULAR_SETTINGS = {
    "TITLE": "Warmup review API",
    "DESCRIPTION": "Bot API (claim and report warmup phases) and review API (the human queue).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # OpenAPI 3.1: "no value" is a plain `null` (`oneOf: [$ref, {type: null}]`), which 3.0's
    # `nullable` beside a $ref cannot say; client generators and validators read it alike.
    "OAS_VERSION": "3.1.0",
    # Path ids are integers (config.converters.DatabaseIdConverter: up to 18 digits).
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999}
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.add_servers",
        "config.api.schema.ref_parameter_enums",
        "config.api.schema.inline_null_enum",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PhaseStatusEnum": "warmup.models.PhaseStatus",
        "AccountStatusEnum": "warmup.models.AccountStatus",
        "FailureCategoryEnum": "warmup.models.FailureCategory",
        "PlatformEnum": "warmup.models.Platform",
        "AttemptOutcomeEnum": "warmup.models.AttemptOutcome",
        "FailureDecisionEnum": "warmup.models.FailureDecision",
        "CompletionMethodEnum": "warmup.models.CompletionMethod",
        "ResolutionMethodEnum": "reviews.models.ResolutionMethod",
        "ReviewActionEnum": "reviews.models.ReviewAction",
        "ReasonCodeEnum": "reviews.models.ReasonCode",
        "ActorTypeEnum": "reviews.models.ActorType",
        "StatusAfterFailureEnum": ["content_assigned", "review_required"],
    },
}
