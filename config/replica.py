"""A read replica for the heavy reads: with `DATABASE_REPLICA_URL` set, the dashboard,
`review_report`, the review analytics, the integrity checker and the `/metrics` gauges read a
streaming replica (a hot standby) instead of the primary the bots write to. Everything else
stays on the primary: every write, the bot API, the review queue a reviewer acts on, and any
read right after one's own write (nothing reads the replica unless it asks, below).

A heavy read runs as `result, source = read_heavy(read)`: while `read()` runs, `ReplicaRouter`
sends its queries to the replica, provided the replica answers and lags at most
`REPLICA_MAX_LAG_SECONDS` (seconds behind the primary, from `pg_last_xact_replay_timestamp()`;
0 when it has replayed all it received). A replica that is down or lags more is skipped with a
log line and the read goes to the primary; one that fails during the read has the read run
again on the primary. `source.lag` says how old the figures are (None: from the primary), so a
page can say "figures as of N seconds ago". The replica is asked at most every
`REPLICA_CHECK_SECONDS` per process.

Without `DATABASE_REPLICA_URL` (SQLite, or one PostgreSQL) this is all a no-op.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from config.database import RETRYABLE_DATABASE_ERRORS

REPLICA = "replica"
T = TypeVar("T")
log = logging.getLogger("warmup.replica")

# Seconds the replica is behind, measured on the replica: nothing, when it has replayed all the
# WAL it received (an idle primary sends none, and its last replayed commit grows old).
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()))
END
"""


@dataclass(frozen=True)
class Source:
    """Where a heavy read went: `alias`, and how far behind the primary its figures are."""

    alias: str
    lag: float | None = None  # seconds; None on the primary

    @property
    def replica(self) -> bool:
        return self.alias == REPLICA


PRIMARY = Source(DEFAULT_DB_ALIAS)
_reading: ContextVar[Source | None] = ContextVar("heavy_reads", default=None)
_checked: dict[str, tuple[float, Source]] = {}  # alias -> (when, what it said)
_lock = threading.Lock()


def configured() -> bool:
    return REPLICA in settings.DATABASES


def _measure() -> Source:
    """Ask the replica how far behind it is; the primary if it is down, not a standby, or too
    far behind (each said in a log line)."""
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(LAG_SQL)
            (lag,) = cursor.fetchone()
    except RETRYABLE_DATABASE_ERRORS as error:
        connections[REPLICA].close()
        log.warning("replica unavailable, reading from the primary", extra={"error": str(error)})
        return PRIMARY
    if lag is None:
        log.warning("DATABASE_REPLICA_URL is not a standby (not in recovery); not used")
        return PRIMARY
    lag = float(lag)
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        log.warning(
            "replica lags, reading from the primary",
            extra={"lag_seconds": round(lag, 1), "max_lag": settings.REPLICA_MAX_LAG_SECONDS},
        )
        return PRIMARY
    return Source(REPLICA, lag)


def replica_source() -> Source:
    """The replica if it may serve heavy reads now, else the primary (checked at most every
    REPLICA_CHECK_SECONDS in this process)."""
    if not configured():
        return PRIMARY
    now = time.monotonic()
    with _lock:
        seen = _checked.get(REPLICA)
        if seen and now - seen[0] < settings.REPLICA_CHECK_SECONDS:
            return seen[1]
    source = _measure()
    with _lock:
        _checked[REPLICA] = (now, source)
    return source


def forget_replica_check() -> None:
    """Ask the replica again at the next heavy read (tests; after a failover)."""
    with _lock:
        _checked.clear()


@contextmanager
def _reading_from(source: Source):
    token = _reading.set(source)
    try:
        yield source
    finally:
        _reading.reset(token)


def read_heavy(read: Callable[[], T]) -> tuple[T, Source]:
    """`read()` on the replica when it may serve it, else on the primary; and where it ran.
    The replica failing during the read (stopped, restarted) costs a log line and the same
    read again on the primary, not an error."""
    source = replica_source()
    if source.replica:
        try:
            with _reading_from(source):
                return read(), source
        except RETRYABLE_DATABASE_ERRORS as error:
            connections[REPLICA].close()
            forget_replica_check()
            log.warning(
                "replica failed during a read, reading from the primary",
                extra={"error": str(error)},
            )
    with _reading_from(PRIMARY):
        return read(), PRIMARY


class ReplicaRouter:
    """Reads inside `heavy_reads()` go where it decided; everything else to the primary."""

    def db_for_read(self, model, **hints):
        source = _reading.get()
        return source.alias if source is not None else None

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two ways in

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
