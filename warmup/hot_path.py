"""The bots' hot path on PostgreSQL: a claim is one statement and a completion is one statement.

A claim picks the next ready phase (skipping rows other claimers hold), takes the lease and
writes the attempt in one statement; a completion ends the lease, closes the attempt and
unlocks the account's next phase in one. Both are prepared on the server once per connection
and return every column the bot's answer shows, so a cycle costs two round trips and little
Python.

The moves stay those of `warmup.state`: each statement's from- and to-status are looked up by
the move's name in `TRANSITIONS` (a move missing from the table cannot be built), and every
row is written only while it still has the from-status, so a phase in any other status is left
alone. Each move writes the same log line and counts the same metric as the ORM path, after
commit. A statement that matches nothing returns None: the caller's full path then explains
why (not found, lease lost, a replay), so every refusal keeps its one wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from django.db import connection, transaction
from django.db.models import JSONField, Model
from psycopg.types.json import Jsonb

from config import metrics
from warmup.models import (
    MAX_LEASE,
    MAX_STEP_DELAY,
    Account,
    AccountStatus,
    AttemptOutcome,
    Bot,
    ContentItem,
    PhaseAttempt,
    PhaseTemplate,
    WarmupPhase,
    WarmupPlan,
)
from warmup.state import TRANSITIONS, log_phase_change


def move(name: str) -> tuple[str, str]:
    """The one (from, to) pair of `TRANSITIONS` named `name`; ValueError unless there is one."""
    pairs = [pair for pair, kind in TRANSITIONS.items() if kind == name]
    if len(pairs) != 1:
        raise ValueError(f"the status machine has {len(pairs)} moves named {name!r}")
    return tuple(str(status) for status in pairs[0])


def literal(status: str) -> str:
    """A status as an SQL constant. The statuses are written into the statements, not bound:
    a prepared statement's generic plan can use a partial index (`WHERE status = '...'`) only
    when its query names the same constant."""
    if not re.fullmatch(r"[a-z_]+", status):
        raise ValueError(f"not a status: {status!r}")
    return f"'{status}'"


def available() -> bool:
    """Whether the hot path runs here (PostgreSQL); elsewhere the ORM path does the work."""
    return connection.vendor == "postgresql"


ONLY_WHEN_ASKED = 2**31 - 1  # a threshold no statement reaches by repetition


class _PreparingCursor(psycopg.Cursor):
    """Binds parameters on the server, prepares each statement the first time a connection
    runs it (psycopg keeps them by text) and reads results in binary (a timestamp is decoded
    in C, not parsed from its text)."""

    keep_query = False  # whether Django records the statement (DEBUG, tests capturing queries)

    def execute(self, query, params=None, *, prepare=None, binary=None):
        # Django opens connections with psycopg's preparing off (a threshold of None), which
        # also ignores prepare=True; it is on only for this statement, so the ORM's queries
        # stay out of psycopg's statement cache (its texts, its clearing on a savepoint's
        # rollback).
        connection, threshold = self.connection, self.connection.prepare_threshold
        connection.prepare_threshold = ONLY_WHEN_ASKED
        try:
            super().execute(query, params, prepare=True, binary=True)
        finally:
            connection.prepare_threshold = threshold
        if self.keep_query and self._query is None:
            # A prepared statement runs by name, so psycopg keeps no text for Django's record
            # (`last_executed_query` reads `_query`, as it does for any psycopg cursor).
            self._query = self._convert_query(query, params)
        return self


def _fetchone(sql: str, params: dict):
    # As Django's own cursor(): a connection kept from an earlier request is checked first.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _PreparingCursor(connection.connection)
    raw.keep_query = connection.queries_logged
    # Django's wrapper: query capture, execute wrappers and its error classes stay in force.
    with connection._prepare_cursor(raw) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


# --- The rows a statement returns --------------------------------------------------------


def _columns(model: type[Model], alias: str, *, named: bool = False) -> str:
    """The model's columns under `alias`; `named` gives each a name of its own (`m_id`)."""
    return ", ".join(
        f'{alias}."{field.column}"' + (f" AS {alias}_{field.column}" if named else "")
        for field in model._meta.concrete_fields
    )


def _instance(model: type[Model], values: tuple) -> Model | None:
    """The model instance of its columns' values, read as the ORM reads them."""
    if values[0] is None:  # the LEFT JOIN found nothing (a phase without content)
        return None
    attnames, converters = _READERS[model]
    if converters:
        values = list(values)
        for index, convert in converters:
            if values[index] is not None:
                values[index] = convert(values[index], None, connection)
    return model.from_db(connection.alias, attnames, values)


def _readers(model: type[Model]) -> tuple[list[str], list[tuple[int, Callable]]]:
    """A model's attribute names in column order, and the fields whose value the ORM converts
    after reading it (from_db_value). A JSON column needs none: in binary, psycopg hands it
    over parsed."""
    fields = model._meta.concrete_fields
    converters = [
        (index, field.from_db_value)
        for index, field in enumerate(fields)
        if hasattr(field, "from_db_value") and not isinstance(field, JSONField)
    ]
    return [field.attname for field in fields], converters


_READERS = {model: _readers(model) for model in (WarmupPhase, Account, ContentItem)}


_SPANS = [
    (model, len(model._meta.concrete_fields)) for model in (WarmupPhase, Account, ContentItem)
]


def _phase(row: tuple) -> WarmupPhase:
    """The phase of a returned row, with its account and content attached (no later query)."""
    objects, start = [], 0
    for model, width in _SPANS:
        objects.append(_instance(model, row[start : start + width]))
        start += width
    phase, account, content = objects
    phase._state.fields_cache["account"] = account
    phase._state.fields_cache["content"] = content
    return phase


_PHASE = WarmupPhase._meta.db_table
_RETURNED = (
    f"SELECT {_columns(WarmupPhase, 'm', named=True)}, {_columns(Account, 'a', named=True)}, "
    f"{_columns(ContentItem, 'c', named=True)} {{extra}} FROM moved m "
    f"JOIN {Account._meta.db_table} a ON a.id = m.account_id "
    f"LEFT JOIN {ContentItem._meta.db_table} c ON c.id = m.content_id"
)


# --- Claim ---------------------------------------------------------------------------------

CLAIM_FROM, CLAIM_TO = move("claim")
_ACTIVE = literal(AccountStatus.ACTIVE)

_CLAIM = f"""
WITH next AS (
    SELECT p.id FROM {_PHASE} p JOIN {Account._meta.db_table} a ON a.id = p.account_id
    WHERE p.status = {literal(CLAIM_FROM)} AND p.next_attempt_at <= %(now)s AND a.status = {_ACTIVE}
        AND EXISTS (SELECT FROM {Bot._meta.db_table} b WHERE b.id = %(bot)s AND b.is_active)
    {{filters}}
    ORDER BY p.next_attempt_at, p.id
    LIMIT 1
    FOR UPDATE OF p SKIP LOCKED
), moved AS (
    UPDATE {_PHASE} p SET
        status = {literal(CLAIM_TO)}, bot_id = %(bot)s, lease_token = %(token)s,
        lease_expires_at = %(now)s
            + LEAST(GREATEST(t.lease_duration, interval '1 second'), %(max_lease)s),
        attempt_count = p.attempt_count + 1, updated_at = %(now)s
    FROM next, {PhaseTemplate._meta.db_table} t
    WHERE p.id = next.id AND p.status = {literal(CLAIM_FROM)} AND t.id = p.template_id
    RETURNING {_columns(WarmupPhase, "p")}
), attempt AS (
    INSERT INTO {PhaseAttempt._meta.db_table} (
        phase_id, number, bot_id, lease_token, content_id, claimed_at,
        outcome, failure_category, reason, details, result, decision
    )
    SELECT id, attempt_count, bot_id, lease_token, content_id, %(now)s,
        '', '', '', '{{{{}}}}', '{{{{}}}}', ''
    FROM moved
)
{_RETURNED.format(extra="")}
"""

_FILTERS = {
    "platforms": "AND a.platform = ANY(%(platforms)s)",
    "phase_types": "AND p.phase_type = ANY(%(phase_types)s)",
    "plans": (
        f"AND a.plan_id IN (SELECT id FROM {WarmupPlan._meta.db_table} WHERE slug = ANY(%(plans)s))"
    ),
}


def claim(*, bot_id: int, token: UUID, now: datetime, **narrowing) -> WarmupPhase | None:
    """content_assigned -> in_progress for the next ready phase of an active account (narrowed
    by `platforms`, `phase_types`, `plans` lists when given) with its attempt, or None when
    nothing is ready or the bot is no longer active. One statement: in the caller's
    transaction, or committed on its own."""
    given = {name: list(values) for name, values in narrowing.items() if values}
    filters = " ".join(_FILTERS[name] for name in _FILTERS if name in given)
    row = _fetchone(
        _CLAIM.format(filters=filters),
        {
            "now": now,
            "bot": bot_id,
            "token": token,
            "max_lease": MAX_LEASE,
            **given,
        },
    )
    if row is None:
        return None
    phase = _phase(row)
    log_phase_change(phase, CLAIM_FROM, CLAIM_TO)
    transaction.on_commit(metrics.PHASE_CLAIMS.labels(phase_type=phase.phase_type).inc)
    return phase


# --- Complete ------------------------------------------------------------------------------

COMPLETE_FROM, COMPLETE_TO = move("complete")
UNLOCK_FROM, UNLOCK_TO = move("unlock")

_COMPLETE = f"""
WITH moved AS (
    UPDATE {_PHASE} p SET
        status = {literal(COMPLETE_TO)}, lease_token = NULL, lease_expires_at = NULL,
        completed_at = %(now)s, completion_method = %(method)s, next_attempt_at = NULL,
        updated_at = %(now)s
    WHERE p.id = %(phase)s AND p.status = {literal(COMPLETE_FROM)} AND p.lease_token = %(token)s
        AND p.bot_id = %(bot)s AND p.lease_expires_at > %(now)s
    RETURNING {_columns(WarmupPhase, "p")}
), closed AS (
    UPDATE {PhaseAttempt._meta.db_table} t SET
        finished_at = %(now)s, outcome = %(outcome)s, result = %(result)s
    FROM moved WHERE t.lease_token = %(token)s AND t.phase_id = moved.id
), wait AS (
    SELECT q.id, LEAST(GREATEST(t.delay, interval '0'), %(max_delay)s) AS delay
    FROM moved m
    JOIN {_PHASE} q ON q.account_id = m.account_id AND q.status = {literal(UNLOCK_FROM)}
        AND q."order" > m."order"
    JOIN {PhaseTemplate._meta.db_table} t ON t.id = q.template_id
    ORDER BY q."order"
    LIMIT 1
), following AS (
    UPDATE {_PHASE} n SET
        status = CASE WHEN w.delay <= interval '0' THEN {literal(UNLOCK_TO)} ELSE n.status END,
        available_at = %(now)s + w.delay, updated_at = %(now)s
    FROM wait w WHERE n.id = w.id AND n.status = {literal(UNLOCK_FROM)}
    RETURNING n.id, n.account_id, n.status, n.last_failure_category
)
{_RETURNED.format(extra=", f.id, f.account_id, f.status, f.last_failure_category")}
LEFT JOIN following f ON true
"""


@dataclass
class _Following:
    """What the log line of the unlocked phase reads."""

    pk: int
    account_id: int
    status: str
    last_failure_category: str


def complete(
    *, phase_id: int, bot_id: int, token: UUID, now: datetime, method: str, result: dict
) -> WarmupPhase | None:
    """in_progress -> completed while `bot_id` holds the unexpired lease `token`: closes its
    attempt with `result` and unlocks the account's next pending phase (available at once, or
    its time set after a delay). None if the phase is not so held. One statement: in the
    caller's transaction, or committed on its own."""
    row = _fetchone(
        _COMPLETE,
        {
            "phase": phase_id,
            "bot": bot_id,
            "token": token,
            "now": now,
            "method": method,
            "outcome": str(AttemptOutcome.COMPLETED),
            "result": Jsonb(result),
            "max_delay": MAX_STEP_DELAY,
        },
    )
    if row is None:
        return None
    phase = _phase(row[:-4])
    log_phase_change(phase, COMPLETE_FROM, COMPLETE_TO)
    transaction.on_commit(metrics.PHASE_COMPLETIONS.labels(phase_type=phase.phase_type).inc)
    following = _Following(*row[-4:])
    if following.pk is not None and following.status == UNLOCK_TO:
        log_phase_change(following, UNLOCK_FROM, UNLOCK_TO)
    return phase
