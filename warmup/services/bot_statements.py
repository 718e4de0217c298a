"""The bots' hot path on PostgreSQL: a claim is one statement and a completion is one statement.

A claim picks the next ready phase (skipping rows other claimers hold), takes the lease and
writes the attempt in one statement; a completion ends the lease, closes the attempt and
unlocks the account's next phase in one. Both are prepared on the server once per connection
and return every column the bot's answer shows, so a cycle costs two round trips and little
Python.

Both statements are rendered, once at import, from the declarations of `warmup.lifecycle.state`
that the ORM path evaluates too (the claim's conditions, order and lock; the fields a claim, a
completion and an unlock write; the lease check of a report; the clamps of a lease and a step's
delay), so the two engines cannot drift apart. The moves stay those of the status machine: each
statement's from- and to-status are looked up by the move's name in `TRANSITIONS` (a move
missing from the table cannot be built), and every row is written only while it still has the
from-status, so a phase in any other status is left alone. Each move writes the same log line
and counts the same metric as the ORM path, after commit. A statement that matches nothing
returns None: the caller's full path then explains why (not found, lease lost, a replay), so
every refusal keeps its one wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations
from uuid import UUID

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import JSONField, Model
from psycopg.types.json import Jsonb

from config import metrics
from warmup.lifecycle.state import (
    ATTEMPT_COMPLETED,
    ATTEMPT_OPENED,
    BOT_COMPLETION,
    BREAKER_TRIAL,
    BREAKER_TRIAL_TAKEN,
    CLAIM_FROM,
    CLAIM_NARROWING,
    CLAIM_ORDER,
    CLAIM_SKIPS_LOCKED,
    CLAIM_TO,
    CLAIM_UNBLOCKED,
    CLAIM_WRITES,
    CLAIMABLE,
    CLAIMER,
    COMPLETE_FROM,
    COMPLETE_TO,
    LEASE_HELD,
    LEASE_LIVE,
    LEASE_RELEASED,
    NEXT_PHASE,
    NEXT_PHASE_ORDER,
    STEP_DELAY,
    UNLOCK_FROM,
    UNLOCK_TO,
    UNLOCK_WRITES,
    Clamped,
    Column,
    Either,
    Given,
    Later,
    NoneOf,
    log_phase_change,
)
from warmup.models import (
    Account,
    Bot,
    Breaker,
    ContentItem,
    PhaseAttempt,
    PhaseTemplate,
    WarmupPhase,
)


def literal(value: str) -> str:
    """A status, or another text constant of the declarations (an outcome, an empty text), as
    an SQL constant. The statuses are written into the statements, not bound: a prepared
    statement's generic plan can use a partial index (`WHERE status = '...'`) only when its
    query names the same constant."""
    if not re.fullmatch(r"[a-z_]*", value):
        raise ValueError(f"not a status: {value!r}")
    return f"'{value}'"


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
        if not settings.DATABASE_PREPARED_STATEMENTS:
            # Behind a pooler in transaction mode that does not keep them (settings): bound
            # on the server all the same, as an unnamed statement that lives one round trip.
            super().execute(query, params, prepare=False, binary=True)
            return self._kept(query, params)
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
        return self._kept(query, params)

    def _kept(self, query, params):
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


# --- The statements, rendered from the declarations of `warmup.lifecycle.state`
# ----------------------


def _sql_value(value, *, row: str = "p", durations: dict | None = None) -> str:
    """A declared value in SQL: a Given as its named parameter, a Column of `row`, Later as now
    plus the template's (alias t) clamped duration (or the expression `durations` names for it),
    a constant as a literal."""
    if isinstance(value, Given):
        return f"%({value.name})s"
    if isinstance(value, Column):
        column = f'{row}."{value.name}"'
        return f"{column} + {value.add}" if value.add else column
    if isinstance(value, Later):
        return f"%(now)s + {(durations or {}).get(value.duration) or _clamped(value.duration)}"
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict) and not value:
        return "'{}'"
    raise ValueError(f"no SQL for the declared value {value!r}")


def _interval(delta: timedelta) -> str:
    return f"interval '{int(delta.total_seconds())} seconds'"


def _clamped(duration: Clamped, template: str = "t") -> str:
    return (
        f'LEAST(GREATEST({template}."{duration.field}", {_interval(duration.low)}), '
        f"{_interval(duration.high)})"
    )


_OPERATORS = {"exact": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _sql_condition(
    condition, *, alias: str = "p", row: str = "p", model: type[Model] = WarmupPhase
) -> str:
    """A declared condition on the row of `model` under `alias` (a phase's account under `a`,
    joined), a Column meaning one of the row under `row`."""
    if isinstance(condition, Either):
        alternatives = (
            _sql_condition(c, alias=alias, row=row, model=model) for c in condition.conditions
        )
        return f"({' OR '.join(alternatives)})"
    if isinstance(condition, NoneOf):
        # The rows of another table, tested against this row (its Columns are `alias`'s).
        other = condition.model
        tested = _where(condition.conditions, alias="k", row=alias, model=other)
        return f"NOT EXISTS (SELECT FROM {other._meta.db_table} k WHERE {tested})"
    *relations, name = condition.path.split("__")
    table = alias
    if model is WarmupPhase and relations[:1] == ["account"]:
        model, table, relations = Account, "a", relations[1:]
    if condition.lookup == "isnull":
        test = "IS NULL" if condition.value else "IS NOT NULL"
    else:
        value = _sql_value(condition.value, row=row)
        test = (
            f"= ANY({value})"
            if condition.lookup == "in"
            else f"{_OPERATORS[condition.lookup]} {value}"
        )
    if not relations:
        return f'{table}."{model._meta.get_field(name).column}" {test}'
    if len(relations) > 1:
        raise ValueError(f"no SQL for the declared path {condition.path!r}")
    # A relation of its own (the account's plan): its rows that match, by their ids.
    relation = model._meta.get_field(relations[0])
    related = relation.related_model._meta
    return (
        f'{table}."{relation.column}" IN (SELECT "id" FROM {related.db_table} '
        f'WHERE "{related.get_field(name).column}" {test})'
    )


def _where(conditions, **context) -> str:
    return " AND ".join(_sql_condition(condition, **context) for condition in conditions)


def _sets(model: type[Model], writes: dict, **context) -> str:
    return ", ".join(
        f'"{model._meta.get_field(name).column}" = {_sql_value(value, **context)}'
        for name, value in writes.items()
    )


def _inserted(model: type[Model], writes: dict, *, row: str) -> tuple[str, str]:
    """The columns and values of an INSERT of `writes` into `model`, every other column taking
    the value the ORM would give it (its default; NULL left out)."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.name in writes or field.attname in writes:
            value = writes.get(field.name, writes.get(field.attname))
        elif field.null and not field.has_default():
            continue
        else:
            value = field.get_default()
        columns.append(f'"{field.column}"')
        values.append(_sql_value(value, row=row))
    return ", ".join(columns), ", ".join(values)


_PHASE = WarmupPhase._meta.db_table
_ACCOUNT = Account._meta.db_table
_TEMPLATE = PhaseTemplate._meta.db_table
_ATTEMPT = PhaseAttempt._meta.db_table
_BREAKER = Breaker._meta.db_table


def _returned(extra: str = "") -> str:
    return (
        f"SELECT {_columns(WarmupPhase, 'm', named=True)}, {_columns(Account, 'a', named=True)}, "
        f"{_columns(ContentItem, 'c', named=True)}{extra} FROM moved m "
        f"JOIN {_ACCOUNT} a ON a.id = m.account_id "
        f"LEFT JOIN {ContentItem._meta.db_table} c ON c.id = m.content_id"
    )


# --- Claim ---------------------------------------------------------------------------------


def _claim_statement(narrowing: tuple[str, ...]) -> str:
    """The claim, narrowed by the CLAIM_NARROWING lists named (in the declaration's order).
    A phase a live breaker blocks is left alone (CLAIM_UNBLOCKED); the claim of a phase in a
    breaker's trial takes one of its trial claims (`trial`, waiting on that breaker's row lock
    and testing its count again after the wait), and moves the phase only if it got every
    trial it needed: another claim may have taken the last."""
    conditions = [*CLAIMABLE, *(CLAIM_NARROWING[name] for name in narrowing), CLAIM_UNBLOCKED]
    order = ", ".join(f'p."{WarmupPhase._meta.get_field(name).column}"' for name in CLAIM_ORDER)
    skip = " SKIP LOCKED" if CLAIM_SKIPS_LOCKED else ""
    columns, values = _inserted(PhaseAttempt, ATTEMPT_OPENED, row="m")
    in_trial = _where(BREAKER_TRIAL, alias="k", row="p", model=Breaker)
    return f"""
WITH next AS (
    SELECT p.id FROM {_PHASE} p JOIN {_ACCOUNT} a ON a.id = p.account_id
    WHERE {_where(conditions)}
        AND EXISTS (SELECT FROM {Bot._meta.db_table} b WHERE b.id = %(bot)s
            AND {" AND ".join(f'b."{c.path}" = {_sql_value(c.value)}' for c in CLAIMER)})
    ORDER BY {order}
    LIMIT 1
    FOR UPDATE OF p{skip}
), trial AS (
    UPDATE {_BREAKER} k SET {_sets(Breaker, BREAKER_TRIAL_TAKEN, row="k")}
    FROM next JOIN {_PHASE} p ON p.id = next.id
    WHERE {in_trial}
    RETURNING k.id
), moved AS (
    UPDATE {_PHASE} p SET status = {literal(CLAIM_TO)}, {_sets(WarmupPhase, CLAIM_WRITES)}
    FROM next, {_TEMPLATE} t
    WHERE p.id = next.id AND p.status = {literal(CLAIM_FROM)} AND t.id = p.template_id
        AND NOT EXISTS (SELECT FROM {_BREAKER} k WHERE {in_trial}
            AND k.id NOT IN (SELECT id FROM trial))
    RETURNING {_columns(WarmupPhase, "p")}
), attempt AS (
    INSERT INTO {_ATTEMPT} ({columns})
    SELECT {values}
    FROM moved m
)
{_returned()}
"""


# Every narrowing's statement, made once: the same text each time, so it is prepared once.
CLAIM_STATEMENTS = {
    narrowing: _claim_statement(narrowing)
    for size in range(len(CLAIM_NARROWING) + 1)
    for narrowing in combinations(CLAIM_NARROWING, size)
}


def claim(*, bot_id: int, token: UUID, now: datetime, **narrowing) -> WarmupPhase | None:
    """content_assigned -> in_progress for the next ready phase of an active account (narrowed
    by `platforms`, `phase_types`, `plans` lists when given) with its attempt, or None when
    nothing is ready or the bot is no longer active. One statement: in the caller's
    transaction, or committed on its own."""
    given = {name: list(values) for name, values in narrowing.items() if values}
    statement = CLAIM_STATEMENTS[tuple(name for name in CLAIM_NARROWING if name in given)]
    row = _fetchone(statement, {"now": now, "bot": bot_id, "token": token, **given})
    if row is None:
        return None
    phase = _phase(row)
    log_phase_change(phase, CLAIM_FROM, CLAIM_TO)
    transaction.on_commit(metrics.PHASE_CLAIMS.labels(phase_type=phase.phase_type).inc)
    return phase


# --- Complete ------------------------------------------------------------------------------

COMPLETE_STATEMENT = f"""
WITH moved AS (
    UPDATE {_PHASE} p SET
        status = {literal(COMPLETE_TO)}, {_sets(WarmupPhase, {**LEASE_RELEASED, **BOT_COMPLETION})}
    WHERE p.id = %(phase)s AND {_where(LEASE_HELD)} AND {_where(LEASE_LIVE)}
    RETURNING {_columns(WarmupPhase, "p")}
), closed AS (
    UPDATE {_ATTEMPT} t SET {_sets(PhaseAttempt, ATTEMPT_COMPLETED)}
    FROM moved WHERE t.lease_token = %(token)s AND t.phase_id = moved.id
), wait AS (
    SELECT q.id, {_clamped(STEP_DELAY)} AS delay
    FROM moved m
    JOIN {_PHASE} q ON {_where(NEXT_PHASE, alias="q", row="m")}
    JOIN {_TEMPLATE} t ON t.id = q.template_id
    ORDER BY {", ".join(f'q."{name}"' for name in NEXT_PHASE_ORDER)}
    LIMIT 1
), following AS (
    UPDATE {_PHASE} n SET
        status = CASE WHEN w.delay <= interval '0' THEN {literal(UNLOCK_TO)} ELSE n.status END,
        {_sets(WarmupPhase, UNLOCK_WRITES, durations={STEP_DELAY: "w.delay"})}
    FROM wait w WHERE n.id = w.id AND n.status = {literal(UNLOCK_FROM)}
    RETURNING n.id, n.account_id, n.status, n.last_failure_category
)
{_returned(extra=", f.id, f.account_id, f.status, f.last_failure_category")}
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
        COMPLETE_STATEMENT,
        {
            "phase": phase_id,
            "bot": bot_id,
            "token": token,
            "now": now,
            "method": method,
            "result": Jsonb(result),
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
