"""Small readers for settings that come from the environment."""

import os
import re

TRUE_VALUES = {"1", "true", "yes", "on"}


def env_str(name: str, *, default: str) -> str:
    """The variable's value; unset or empty means the default."""
    return os.environ.get(name) or default


def env_bool(name: str, *, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in TRUE_VALUES


BAD_COUNT = "{name}={value!r} is not a whole number of at least {least}."


def env_count(name: str, *, default: int, least: int = 1) -> int:
    """A whole number from the environment, at least `least`; ValueError, naming the variable,
    for anything else."""
    value = env_str(name, default=str(default)).strip()
    if not (value.isascii() and value.isdigit()) or int(value) < least:
        raise ValueError(BAD_COUNT.format(name=name, value=value, least=least))
    return int(value)


def env_list(name: str, *, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# --- Checks of values that would weaken or break the server ---------------------------------

GENERATE_SECRET_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE = 5
WEAK_SECRET_KEY = (
    "SECRET_KEY is too weak for a server with DEBUG off: it needs at least "
    f"{SECRET_KEY_MIN_LENGTH} characters, {SECRET_KEY_MIN_UNIQUE} of them different, and no "
    "'django-insecure-' prefix (Django's check --deploy, security.W009). Generate one with: "
    f"{GENERATE_SECRET_KEY}"
)
# PostgreSQL durations as `-c name=value` takes them: a number, optionally with a unit.
_PG_DURATION = re.compile(r"\d+(ms|s|min|h)?")
BAD_PG_DURATION = (
    "{name}={value!r} is not a PostgreSQL duration: give a number of milliseconds or a number "
    "with a unit (ms, s, min, h), e.g. 10s; 0 turns the limit off."
)


def is_weak_secret_key(key: str) -> bool:
    """True for a key Django's deploy check calls weak (W009): short, repetitive or a
    development key."""
    return (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_UNIQUE
        or key.startswith("django-insecure-")
    )


def env_pg_duration(name: str, *, default: str) -> str:
    """A PostgreSQL duration setting (lock_timeout, statement_timeout) from the environment;
    ValueError, naming the variable, for anything else (it goes into the connection's options,
    where a space would start another option)."""
    value = env_str(name, default=default).strip()
    if not _PG_DURATION.fullmatch(value):
        raise ValueError(BAD_PG_DURATION.format(name=name, value=value))
    return value
