"""One small function per review event; the only code that creates ReviewLog rows.

Each takes the phase (or account) as it is *after* the change, plus what the row must remember
about the moment before it (from_status and the like).

Every row is chained to the last row of its phase (or, without a phase, of its account) by
`warmup.lifecycle.chain`. The previous row is read in the writer's transaction, where the caller
holds the phase's row lock (the account's, for a row without a phase): writers of one phase take
turns, writers of different phases never wait on each other.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

from django.db import connection
from django.db.models import Max, Q
from django.utils import timezone

from reviews.models import ReviewLog
from warmup.domain.actors import Actor
from warmup.domain.choices import RESOLUTION_ACTIONS, ReviewAction
from warmup.lifecycle.chain import CHAIN_START, chain_of, row_hash, values_of
from warmup.models import Account, WarmupPhase


def _values(
    *, action: str, actor: Actor, account: Account, phase: WarmupPhase | None = None, **fields
) -> dict:
    """A row's values by attribute name; failure category, retry count and escalation level
    default to the phase's current values (the moment of the event), callers may pass the
    values from before. Foreign keys by id: a bulk run makes thousands of rows, and Django
    checks every related instance it is given."""
    snapshot = {}
    if phase is not None:
        snapshot = {
            "failure_category": phase.last_failure_category,
            "retry_count": phase.retry_count,
            "escalation_level": phase.escalation_level,
            "signature_id": phase.review_signature_id,
        }
    fields.setdefault("created_at", timezone.now())
    return {
        "phase_id": phase.pk if phase is not None else None,
        "account_id": account.pk,
        "action": action,
        "actor_type": actor.kind,
        "actor_user_id": actor.user.pk if actor.user is not None else None,
        "actor_bot_id": actor.bot.pk if actor.bot is not None else None,
        **snapshot,
        **fields,
    }


def _move_values(
    *, action: str, actor: Actor, phase: WarmupPhase, from_status: str, **fields
) -> dict:
    """`_values` of a row that records a phase's move: from `from_status` to the status the
    phase is in now, on the phase's account."""
    return _values(
        action=action,
        actor=actor,
        account=phase.account,
        phase=phase,
        from_status=from_status,
        to_status=phase.status,
        **fields,
    )


def _bulk_rows(values: list[dict]) -> list[SimpleNamespace]:
    """Rows for `_insert`: every column's value as an attribute, without a model instance each
    (building ten thousand of them cost a bulk run more than hashing them)."""
    fields = [field for field in ReviewLog._meta.concrete_fields if not field.primary_key]
    defaults = {field.attname: field.get_default() for field in fields}
    return [SimpleNamespace(**{**defaults, **row}) for row in values]


def _last_hashes(rows: list) -> dict[tuple[str, int], str]:
    """The hash of the last stored row of each chain `rows` extend, in one query."""
    phases = {row.phase_id for row in rows if row.phase_id is not None}
    accounts = {row.account_id for row in rows if row.phase_id is None}
    # A phase belongs to one account, so (phase, account) groups a phase's rows together and
    # the rows without a phase by account.
    newest = (
        ReviewLog.objects.filter(
            Q(phase_id__in=phases) | Q(phase__isnull=True, account_id__in=accounts)
        )
        .values("phase_id", "account_id")
        .annotate(newest=Max("id"))
        .values("newest")
    )
    return {
        chain_of(phase_id, account_id): digest
        for phase_id, account_id, digest in ReviewLog.objects.filter(pk__in=newest).values_list(
            "phase_id", "account_id", "hash"
        )
    }


def _chained(rows: list) -> list:
    """Give each row its previous hash and its hash, in order; rows of one chain in one batch
    follow each other. The caller holds the locks named in the module docstring."""
    last = _last_hashes(rows)
    for row in rows:
        chain = chain_of(row.phase_id, row.account_id)
        row.previous_hash = last.get(chain, CHAIN_START)
        row.hash = row_hash(values_of(row), row.previous_hash)
        last[chain] = row.hash
    return rows


# Columns whose values (str, int or None) the database takes as they are.
AS_STORED = {"CharField", "TextField", "IntegerField", "PositiveIntegerField", "ForeignKey"}
AS_STORED |= {"PositiveSmallIntegerField", "BigIntegerField"}


def _insert(rows: list) -> list:
    """Store chained rows at once: what `bulk_create` does, without its per-value compile
    step, which costs a bulk run of thousands of rows more than the database does. A column
    whose value is the same object on every row (the run's reviewer, note, batch) is converted
    once. On PostgreSQL the rows go by COPY (one stream, each row formatted by psycopg's C
    code, nothing for the server to parse as SQL), elsewhere through executemany. The rows are
    not given their ids back (no caller reads them)."""
    if not rows:
        return rows
    fields = [field for field in ReviewLog._meta.concrete_fields if not field.primary_key]
    columns = []
    for field in fields:
        values = [getattr(row, field.attname) for row in rows]
        if all(value is values[0] for value in values):
            columns.append([field.get_db_prep_save(values[0], connection)] * len(rows))
        elif field.get_internal_type() in AS_STORED:
            columns.append(values)
        else:
            columns.append([field.get_db_prep_save(value, connection) for value in values])
    quote = connection.ops.quote_name
    table = quote(ReviewLog._meta.db_table)
    names = ", ".join(quote(field.column) for field in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with connection.wrap_database_errors:
                with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in zip(*columns, strict=True):
                        copy.write_row(row)
        else:
            values = ", ".join(["%s"] * len(fields))
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({values})",
                list(zip(*columns, strict=True)),
            )
    return rows


def _store(values: list[dict]) -> list:
    """Rows of `values` (see `_values`), chained and stored in one statement: the one way
    rows are written, for one event or a batch's thousands."""
    return _insert(_chained(_bulk_rows(values)))


def _log(**kwargs) -> None:
    """One row (see `_values`): `_store` with one."""
    _store([_values(**kwargs)])


def escalated_many(
    escalations: list[tuple[WarmupPhase, str]], *, actor: Actor, from_status: str
) -> list:
    """The rows of failures escalated to review, (phase, reason) each, in one INSERT."""
    values = [
        _move_values(
            action=ReviewAction.ESCALATED,
            actor=actor,
            phase=phase,
            from_status=from_status,
            note=reason,
        )
        for phase, reason in escalations
    ]
    return _store(values)


def held(*, phase: WarmupPhase, actor: Actor, from_status: str, note: str) -> None:
    move = _move_values(
        action=ReviewAction.HELD, actor=actor, phase=phase, from_status=from_status, note=note
    )
    _store([move])


def assigned(*, phase: WarmupPhase, actor: Actor, previous_assignee_id: int | None) -> None:
    if phase.review_assignee_id is None:
        action = ReviewAction.UNASSIGNED
    else:
        action = ReviewAction.ASSIGNED
    _log(
        action=action,
        actor=actor,
        account=phase.account,
        phase=phase,
        data={"assignee": phase.review_assignee_id, "previous_assignee": previous_assignee_id},
    )


def commented(*, phase: WarmupPhase, actor: Actor, note: str) -> None:
    _log(action=ReviewAction.COMMENTED, actor=actor, account=phase.account, phase=phase, note=note)


def recategorized(*, phase: WarmupPhase, actor: Actor, previous_category: str, note: str) -> None:
    _log(
        action=ReviewAction.RECATEGORIZED,
        actor=actor,
        account=phase.account,
        phase=phase,
        note=note,
        data={"from": previous_category, "to": phase.last_failure_category},
    )


def resolved_many(resolutions: list[dict], *, batch) -> list:
    """The resolution rows of a batch, in one INSERT, each naming the batch. `resolutions`
    holds one dict per phase of `_resolution_values`' keyword arguments; level and retry count
    are those the item had before it was resolved."""
    return _store([_resolution_values(**fields, batch=batch) for fields in resolutions])


def _resolution_values(
    *,
    phase: WarmupPhase,
    actor: Actor,
    method: str,
    from_status: str,
    reason_code: str,
    note: str,
    time_in_review: timedelta,
    escalation_level: int,
    retry_count: int,
    assignee_id: int | None = None,
    content_id: int | None = None,
    batch=None,
    at: datetime | None = None,
) -> dict:
    # What the resolution cleared or replaced (the assignee; a resume's content), so an undo
    # can give it back. `at`: the resolution's moment, the phase's last_resolved_at.
    return _move_values(
        batch=batch,
        **({"created_at": at} if at is not None else {}),
        action=RESOLUTION_ACTIONS[method],
        actor=actor,
        phase=phase,
        from_status=from_status,
        note=note,
        resolution_method=method,
        reason_code=reason_code,
        time_in_review=time_in_review,
        escalation_level=escalation_level,
        retry_count=retry_count,
        data={"assignee": assignee_id, "content": content_id},
    )


def escalations_raised(raises: list[tuple[WarmupPhase, int]], *, at) -> list:
    """The rows of the levels a tick's batch raised, in one INSERT: one per (phase, level),
    a phase's levels lowest first."""
    return _store([_escalation_values(phase, level, at) for phase, level in raises])


def _escalation_values(phase: WarmupPhase, level: int, at) -> dict:
    return _move_values(
        action=ReviewAction.ESCALATION_RAISED,
        actor=Actor.system(),
        phase=phase,
        from_status=phase.status,
        escalation_level=level,
        data={"level": level},
        created_at=at,
    )


def account_status_changed(
    *,
    account: Account,
    actor: Actor,
    action: str,
    phase: WarmupPhase | None,
    note: str,
    previous_status: str,
) -> None:
    """Suspension, pause or reactivation of an account (phase: its active phase, if any)."""
    _log(
        action=action,
        actor=actor,
        account=account,
        phase=phase,
        note=note,
        data={"account_status": account.status, "previous_account_status": previous_status},
    )


def resolutions_undone(
    undone: list[tuple[WarmupPhase, ReviewLog]], *, actor: Actor, note: str, batch
) -> list:
    """One row per phase a bulk undo put back in review (in one INSERT): from the status the
    resolution left it in, back to review, naming the undo's batch and the resolution's."""
    values = [
        _move_values(
            action=ReviewAction.RESOLUTION_UNDONE,
            actor=actor,
            phase=phase,
            from_status=from_status,
            note=note,
            batch=batch,
            data={"undoes_batch": str(resolution.batch), "undoes": resolution.pk},
        )
        for phase, resolution, from_status in undone
    ]
    return _store(values)


def breaker_opened(*, breaker, phase: WarmupPhase, reopened: bool) -> None:
    """A breaker opened, or a failed trial reopened it (warmup.services.breaker): a row on the
    phase whose failure did it (locked by the caller), with the breaker's scope and counts."""
    _log(
        action=ReviewAction.BREAKER_OPENED,
        actor=Actor.system(),
        account=phase.account,
        phase=phase,
        signature_id=breaker.signature_id,
        note=(
            f"A trial claim failed the same way: claims of {_scope_words(breaker)} stop again"
            if reopened
            else f"{breaker.failures} failures of {breaker.attempts} attempts in the window: "
            f"claims of {_scope_words(breaker)} stop"
        ),
        data=_breaker_data(breaker, reopened=reopened),
    )


def breaker_closed(
    *, breaker, phase: WarmupPhase, actor: Actor, reason_code: str, note: str
) -> None:
    """A breaker closed, by hand or after its trial claims completed: a row on the phase its
    opening was logged on (locked by the caller)."""
    _log(
        action=ReviewAction.BREAKER_CLOSED,
        actor=actor,
        account=phase.account,
        phase=phase,
        signature_id=breaker.signature_id,
        reason_code=reason_code,
        note=note,
        data=_breaker_data(breaker),
    )


def _scope_words(breaker) -> str:
    where = [f"plan step {breaker.phase_type}"]
    if breaker.platform:
        where.append(f"on {breaker.platform}")
    if breaker.bot_id is not None:
        where.append(f"by bot {breaker.bot_id}")
    return " ".join(where)


def _breaker_data(breaker, **extra) -> dict:
    return {
        "breaker": breaker.pk,
        "scope": breaker.scope,
        "failures": breaker.failures,
        "attempts": breaker.attempts,
        "openings": breaker.openings,
        **extra,
    }
