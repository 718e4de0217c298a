"""Structured logs: one configuration for structlog and the standard library's logging, so the
application's events and Django's own records (request errors with their tracebacks) come out
in the same format on standard error.

LOG_FORMAT  `json` (one JSON object per line) or `keyvalue` (logfmt, `key=value ...`, a traceback
            on the lines after its record); unset: keyvalue on a terminal, json otherwise
LOG_LEVEL   the root level; unset: INFO for the servers, WARNING for a management command
            unless it runs with `-v 2` or more (see `default_level`)

Who did something comes from the log context (structlog's contextvars), bound by the edges:
`bot` (the bot API's authentication), `user` (config.middleware, for a request's user), `batch`
(bulk commands: `structlog.contextvars.bind_contextvars(batch=...)`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import structlog

FORMATS = ("json", "keyvalue")


def default_format() -> str:
    """keyvalue for a person at a terminal, json for a log collector."""
    return "keyvalue" if sys.stderr.isatty() else "json"


# Processes whose INFO lines are their record (a log collector keeps them): the web servers and
# the scheduler loop. gunicorn and anything else not started through manage.py count as servers.
SERVING_COMMANDS = frozenset({"runserver", "run_demo"})
SERVING_WITH_OPTION = {"warmup_tick": "--loop"}


def _management_command(argv: Sequence[str]) -> str | None:
    """The command's name when `argv` runs manage.py (or django-admin, python -m django)."""
    if len(argv) < 2:
        return None
    program = os.path.basename(argv[0])
    if program in ("manage.py", "django-admin") or argv[0].endswith(
        os.path.join("django", "__main__.py")
    ):
        return argv[1]
    return None


def _verbosity(args: Sequence[str]) -> int:
    """The command's -v/--verbosity as Django reads it (1 when absent or not a number; Django
    itself refuses a bad one)."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("-v", "--verbosity", type=int, default=1)
    try:
        known, _ = parser.parse_known_args(list(args))
    except argparse.ArgumentError:
        return 1
    return known.verbosity


def default_level(argv: Sequence[str]) -> str:
    """The root level when LOG_LEVEL is unset: a person running a management command at a
    terminal reads what it prints, not one line per status change, so WARNING, unless the
    command runs with `-v 2` or more; the servers (gunicorn, runserver, run_demo, the scheduler
    loop) keep INFO."""
    command = _management_command(argv)
    if command is None or command in SERVING_COMMANDS:
        return "INFO"
    args = list(argv[2:])
    if SERVING_WITH_OPTION.get(command) in args:
        return "INFO"
    return "INFO" if _verbosity(args) >= 2 else "WARNING"


class Deferred:
    """A log-context value worked out when a line is written, not when it is bound: a request's
    user is known only once the view has authenticated it (the review API's tokens), after the
    middleware that binds it ran. `resolve` returns the value, or None to leave the key out."""

    def __init__(self, resolve: Callable[[], Any]):
        self.resolve = resolve


def resolve_deferred(logger, method_name: str, event_dict: dict) -> dict:
    """Processor: replace each Deferred value by what it resolves to (dropped when None)."""
    for key, value in list(event_dict.items()):
        if isinstance(value, Deferred):
            resolved = value.resolve()
            if resolved is None:
                del event_dict[key]
            else:
                event_dict[key] = resolved
    return event_dict


class KeyValueRenderer:
    """logfmt (`timestamp=... level=info logger=... event=... key=value`), with a traceback, if
    any, on the following lines as Python prints it, for people reading a terminal."""

    def __init__(self):
        self._logfmt = structlog.processors.LogfmtRenderer(
            key_order=["timestamp", "level", "logger", "event"], drop_missing=True
        )

    def __call__(self, logger, method_name: str, event_dict: dict) -> str:
        exception = event_dict.pop("exception", None)
        line = self._logfmt(logger, method_name, event_dict)
        return f"{line}\n{exception.rstrip()}" if exception else line


# Run on every record: structlog's own events and the standard library's (Django's) alike.
SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    resolve_deferred,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def renderer(log_format: str):
    if log_format == "json":
        return structlog.processors.JSONRenderer()
    if log_format == "keyvalue":
        return KeyValueRenderer()
    raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}.")


def formatter(log_format: str) -> structlog.stdlib.ProcessorFormatter:
    """The logging.Formatter that renders every record in `log_format`."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer(log_format),
        ],
    )


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING setting: everything, Django's loggers included, to standard error."""
    renderer(log_format)  # refuse an unknown format when settings load, not at the first line
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {"()": "config.logs.formatter", "log_format": log_format},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "structured"},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's default sends `django` records to the console only while DEBUG is on;
            # here they reach the root handler always, so a 500's traceback is in the log.
            "django": {"handlers": [], "level": level, "propagate": True},
        },
    }


def configure_structlog() -> None:
    """structlog hands its events to the standard library, which formats them as above."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
