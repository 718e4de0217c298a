"""The status machines: the tables of allowed moves, the one function that writes a phase's
`status` (and the one for an account's), and one function per kind of move that writes that
move's fields with it.

Services lock the row, decide, and call a move here; nothing else assigns a status. Writes are
conditional on the status the caller saw (compare-and-set), so even on a database without row
locks (SQLite) two writers cannot both win.

Every change writes one structured log line (`phase_status_changed`, `account_status_changed`)
once its transaction commits, with who acted and in which batch taken from the log context
that the edges bind: `bot` (bot API), `user` (admin, review API), `batch` (bulk commands).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial, reduce
from types import SimpleNamespace
from typing import Any

import structlog
from django.db import transaction
from django.db.models import Exists, F, Model, OuterRef, Q
from django.utils import timezone
from fast_update.fast import fast_update

from warmup.domain.errors import (
    ACCOUNT_ALREADY_ACTIVE,
    ACCOUNT_MOVE_NOT_ALLOWED,
    ACCOUNT_NOT_PAUSABLE,
    TRANSITION_NOT_ALLOWED,
    TRANSITION_RACED,
    InvalidTransition,
    Refusal,
)
from warmup.models import (
    MAX_LEASE,
    MAX_STEP_DELAY,
    Account,
    AccountStatus,
    AttemptOutcome,
    Bot,
    Breaker,
    PhaseStatus,
    WarmupPhase,
)

S = PhaseStatus
A = AccountStatus

log = structlog.get_logger("warmup.state")


def _log_change(event: str, **fields) -> None:
    """One line for one status change, written after commit (a rolled-back move changed
    nothing), with the log context of the moment of the move (bot or user, batch)."""
    line = {**structlog.contextvars.get_contextvars(), **fields}
    transaction.on_commit(partial(log.info, event, **line))


def log_phase_change(phase, from_status: str, to_status: str) -> None:
    """The log line of one phase's move (`phase` needs pk, account_id, last_failure_category);
    also written by the bots' one-statement moves (`warmup.services.bot_statements`)."""
    # The failure behind the move, where there is one: a retry, an escalation or a hold, a
    # resolution. A claim or a completion has none, whatever failed before.
    retry = (from_status, to_status) == (S.IN_PROGRESS, S.CONTENT_ASSIGNED)
    review = S.REVIEW_REQUIRED in (from_status, to_status)
    _log_change(
        "phase_status_changed",
        phase=phase.pk,
        account=phase.account_id,
        **{"from": str(from_status), "to": str(to_status)},
        category=(phase.last_failure_category or None) if retry or review else None,
    )


# --- Phases ----------------------------------------------------------------------------------

# (from, to) -> what the move is. The table of DESIGN.md, one row per allowed move.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.PENDING, S.AVAILABLE): "unlock",
    (S.AVAILABLE, S.CONTENT_ASSIGNED): "assign_content",
    (S.CONTENT_ASSIGNED, S.IN_PROGRESS): "claim",
    (S.IN_PROGRESS, S.COMPLETED): "complete",
    (S.IN_PROGRESS, S.CONTENT_ASSIGNED): "retry",
    (S.IN_PROGRESS, S.REVIEW_REQUIRED): "escalate_or_hold",
    (S.REVIEW_REQUIRED, S.AVAILABLE): "review_resume",
    (S.REVIEW_REQUIRED, S.CONTENT_ASSIGNED): "review_retry",
    (S.REVIEW_REQUIRED, S.COMPLETED): "review_complete",
    (S.AVAILABLE, S.REVIEW_REQUIRED): "hold",
    (S.CONTENT_ASSIGNED, S.REVIEW_REQUIRED): "hold",
}


# Moves only the undo of a bulk resolution makes (`warmup.services.resolutions.batch_undo`), and
# only while no bot has claimed the phases since: back to review from where the resolution left the
# phase (completed included), and the next phase that a completion unlocked back to pending. They
# are not moves of the product's machine above: a hold cannot reopen a completed phase.
UNDO_TRANSITIONS: dict[tuple[str, str], str] = {
    (S.AVAILABLE, S.REVIEW_REQUIRED): "undo_resume",
    (S.CONTENT_ASSIGNED, S.REVIEW_REQUIRED): "undo_resolution",
    (S.COMPLETED, S.REVIEW_REQUIRED): "undo_completion",
    (S.AVAILABLE, S.PENDING): "relock",
    (S.CONTENT_ASSIGNED, S.PENDING): "relock",
}


def is_allowed(from_status: str, to_status: str, table: dict = TRANSITIONS) -> bool:
    return (from_status, to_status) in table


def check_transition(phase: WarmupPhase, to_status: str, table: dict = TRANSITIONS) -> None:
    """Raise InvalidTransition unless `phase` may move to `to_status` by `table`."""
    if not is_allowed(phase.status, to_status, table):
        # Plain values: a PhaseStatus member would read "PhaseStatus.X" in the message.
        current, to_status = str(phase.status), str(to_status)
        raise InvalidTransition(
            TRANSITION_NOT_ALLOWED.format(current=current, target=to_status),
            current_status=current,
            target_status=to_status,
            phase_id=phase.pk,
        )


def apply_transition(phase: WarmupPhase, to_status: str, **fields) -> WarmupPhase:
    """`apply_transition_many` with one row: move `phase` to `to_status` and write `fields`."""
    return apply_transition_many([phase], to_status, **fields)[0]


_MISSING = object()


def apply_transition_many(
    phases: list[WarmupPhase],
    to_status: str,
    *,
    per_row: dict | None = None,
    table: dict = TRANSITIONS,
    **fields,
) -> list[WarmupPhase]:
    """Move every one of `phases` to `to_status` in one UPDATE per starting status, writing
    `fields` (the same for all) and `per_row` ({pk: {field: value}}, values that differ), in
    the caller's transaction. The one writer of a phase's status: a single move is a call with
    one row.

    The table decides; the caller holds the row locks, and every row must still have the
    status its instance carries, or InvalidTransition is raised (naming the status found, for
    one row) and the caller's transaction rolls the batch back. Updates `phases` in place.
    """
    for phase in phases:
        check_transition(phase, to_status, table)
    fields.setdefault("updated_at", timezone.now())
    varying = _varying(phases, per_row or {}, fields)
    by_status: dict[str, list[WarmupPhase]] = {}
    for phase in phases:
        by_status.setdefault(str(phase.status), []).append(phase)
    for from_status, group in by_status.items():
        rows = WarmupPhase.objects.filter(pk__in=[p.pk for p in group], status=from_status)
        if varying:
            updated = _update_from_values(rows, group, to_status, fields, per_row, varying)
        else:
            updated = rows.update(status=to_status, **fields)
        if updated != len(group):
            raise _raced(group, from_status, to_status)
    for phase in phases:
        for name, value in {**fields, **(per_row or {}).get(phase.pk, {})}.items():
            setattr(phase, name, value)
        log_phase_change(phase, phase.status, to_status)
        phase.status = str(to_status)
    return phases


def _raced(group: list[WarmupPhase], from_status: str, to_status: str) -> InvalidTransition:
    """The error of a move that found rows of `group` no longer in `from_status`: for one row,
    the status it has now."""
    if len(group) == 1:
        phase = group[0]
        current = WarmupPhase.objects.filter(pk=phase.pk).values_list("status", flat=True).first()
        return InvalidTransition(
            TRANSITION_RACED.format(current=current),
            current_status=current or "",
            target_status=to_status,
            phase_id=phase.pk,
        )
    return InvalidTransition(
        TRANSITION_RACED.format(current="changed for some of the batch"),
        current_status=from_status,
        target_status=to_status,
    )


def _varying(phases: list[WarmupPhase], per_row: dict, fields: dict) -> list[str]:
    """The names of `per_row` whose values differ between the rows; a name whose value is the
    same for every row (always so for one row) moves to `fields`, written plainly."""
    varying = []
    for name in sorted({name for values in per_row.values() for name in values}):
        values = [per_row.get(phase.pk, {}).get(name, _MISSING) for phase in phases]
        if _MISSING in values:
            raise ValueError(f"per_row must give {name} for every phase")
        if all(value == values[0] for value in values):
            fields[name] = values[0]
        else:
            varying.append(name)
    return varying


def _update_from_values(rows, group, to_status, fields, per_row, varying) -> int:
    """The UPDATE of `rows` (the phases of `group` still in their status) with values that
    differ by row, sent as one table of values (UPDATE ... FROM VALUES, by django-fast-update):
    a CASE per column, as `bulk_update` writes, costs Django more to build than the database
    to run. Returns how many rows it changed."""
    common = {"status": to_status, **fields}
    names = [*common, *varying]
    attname = {name: WarmupPhase._meta.get_field(name).attname for name in names}
    values = [
        SimpleNamespace(
            pk=phase.pk,
            id=phase.pk,
            **{attname[name]: value for name, value in common.items()},
            **{attname[name]: per_row[phase.pk][name] for name in varying},
        )
        for phase in group
    ]
    # The status test is in the SELECT that fast_update runs first to find the rows to
    # change, not in its UPDATE: locking them there (FOR UPDATE re-checks the status after any
    # wait) keeps the compare-and-set, so a row moved meanwhile is left out and counted.
    return fast_update(rows.select_for_update(), values, names, batch_size=None)


# The fields each kind of move writes. The database's check constraints insist on the same
# pairs (a lease exactly while in progress, review fields exactly while in review), so a move
# that forgot one would fail there rather than store an inconsistent phase.
LEASE_RELEASED = {"lease_token": None, "lease_expires_at": None}
REVIEW_CLEARED = {"review_required_since": None, "escalation_level": 0, "review_assignee": None}


def unlock_many(phases: list[WarmupPhase], **fields) -> list[WarmupPhase]:
    """pending -> available, in one UPDATE: the scheduler may now assign the phases their
    content. `fields` may set `available_at` (an account's first phase unlocks now); the
    scheduler's due phases keep theirs."""
    return apply_transition_many(phases, S.AVAILABLE, **fields)


def assign_contents(
    phases: list[WarmupPhase], *, contents: dict, now: datetime
) -> list[WarmupPhase]:
    """available -> content_assigned, in one UPDATE: each phase gets `contents[pk]` (a content
    id, or None when its step takes none) and is claimable from `now`."""
    per_row = {pk: {"content_id": content_id} for pk, content_id in contents.items()}
    return apply_transition_many(phases, S.CONTENT_ASSIGNED, per_row=per_row, next_attempt_at=now)


def take_lease(phase: WarmupPhase, *, bot: Bot, lease_token, now: datetime) -> WarmupPhase:
    """content_assigned -> in_progress: `bot` holds the phase under `lease_token` for its
    template's lease, and the attempt count grows by one (CLAIM_WRITES). Needs the template."""
    fields = written(CLAIM_WRITES, phase, now=now, bot=bot.pk, token=lease_token)
    apply_transition(phase, CLAIM_TO, **fields)
    phase.bot = bot
    return phase


def release_lease(phase: WarmupPhase, to_status: str, **fields) -> WarmupPhase:
    """`release_leases` with one row."""
    return release_leases([phase], to_status, per_row={phase.pk: fields})[0]


def release_leases(
    phases: list[WarmupPhase], to_status: str, *, per_row: dict
) -> list[WarmupPhase]:
    """in_progress -> completed or content_assigned (a retry), in one UPDATE (`per_row`:
    {pk: {field: value}}): the lease ends with the move. The bot stays recorded as the one
    that last held the phase."""
    return apply_transition_many(phases, to_status, per_row=per_row, **LEASE_RELEASED)


def _review_entered(now: datetime) -> dict:
    return {
        "review_required_since": now,
        "escalation_level": 0,
        "next_attempt_at": None,
        **LEASE_RELEASED,
    }


def enter_review_many(
    phases: list[WarmupPhase], *, now: datetime, per_row: dict | None = None
) -> list[WarmupPhase]:
    """-> review_required (escalated failures or holds), in one UPDATE (`per_row`: {pk:
    {field: value}}): the review clock starts at `now` at level 0, a lease, if any, ends, and
    no attempt is scheduled."""
    return apply_transition_many(phases, S.REVIEW_REQUIRED, per_row=per_row, **_review_entered(now))


def leave_review_many(phases: list[WarmupPhase], to_status: str, **fields) -> list[WarmupPhase]:
    """review_required -> available, content_assigned or completed, in one UPDATE: the review
    clock, the escalation level and the assignee are cleared."""
    return apply_transition_many(phases, to_status, **REVIEW_CLEARED, **fields)


def back_to_review_many(phases: list[WarmupPhase], *, per_row: dict) -> list[WarmupPhase]:
    """Undo of a resolution (see UNDO_TRANSITIONS): back in review with the review fields the
    phases had when they were resolved (`per_row`: review_required_since, escalation_level,
    retry_count, review_assignee_id, content_id, and last_resolved_at: the resolution before);
    a completion is taken back with it."""
    return apply_transition_many(
        phases,
        S.REVIEW_REQUIRED,
        per_row=per_row,
        table=UNDO_TRANSITIONS,
        next_attempt_at=None,
        completed_at=None,
        completion_method="",
    )


def relock_many(phases: list[WarmupPhase]) -> list[WarmupPhase]:
    """Undo of an unlock (see UNDO_TRANSITIONS): pending again, with no time to unlock at and
    no content, as before the phase before it completed."""
    return apply_transition_many(
        phases,
        S.PENDING,
        table=UNDO_TRANSITIONS,
        available_at=None,
        content=None,
        next_attempt_at=None,
    )


def completion(*, now: datetime, method: str) -> dict:
    """The fields of a completed phase: when, how (CompletionMethod), nothing scheduled."""
    return written(COMPLETED, now=now, method=method)


# --- The bots' moves, declared once ----------------------------------------------------------
# What a claim requires and writes, the lease check of a bot's report, what a heartbeat and a
# completion write, and the unlock of the account's next phase. Two engines run them: the ORM
# path (`warmup.services.bot_work`, through the moves above) evaluates these declarations on
# querysets and instances, and the bots' one-statement path on PostgreSQL
# (`warmup.services.bot_statements`) renders them into its SQL once, at import.
# tests/warmup/services/test_bot_statements.py runs the same work through both and compares every
# column written.
#
# A value written or compared is a constant, a `Given` (supplied when the move runs), a
# `Column` of the row, or `Later`: now plus a duration of the phase's template, `Clamped`.


@dataclass(frozen=True)
class Given:
    """A value the caller supplies when the move runs: now, bot (its pk), token, ..."""

    name: str


NOW = Given("now")


@dataclass(frozen=True)
class Column:
    """A column of the row (before the move's writes in what it writes, after them in what is
    written from the moved row), plus `add`."""

    name: str
    add: int = 0


@dataclass(frozen=True)
class Clamped:
    """A duration of the phase's template held within bounds, whatever is stored."""

    field: str
    low: timedelta
    high: timedelta

    def of(self, template) -> timedelta:
        return min(max(getattr(template, self.field), self.low), self.high)


@dataclass(frozen=True)
class Later:
    """Now plus a template's clamped duration."""

    duration: Clamped


@dataclass(frozen=True)
class Condition:
    """`path` (a lookup path from the row, as the ORM spells it) compared by `lookup` (exact,
    lt, lte, gt, gte, in, isnull) with `value`."""

    path: str
    lookup: str
    value: Any


@dataclass(frozen=True)
class Either:
    """At least one of `conditions` holds."""

    conditions: tuple


@dataclass(frozen=True)
class NoneOf:
    """No row of `model` meets `conditions` (whose Columns are the tested row's)."""

    model: type[Model]
    conditions: tuple


class _Referred:
    """A row in the database as a query sees it: `row.name` is the expression of its column
    (F: the updated row's own; OuterRef: the row of the query around a subquery)."""

    def __init__(self, expression):
        self.expression = expression

    def __getattr__(self, name):
        return self.expression(name)


OWN_ROW = _Referred(F)
OUTER_ROW = _Referred(OuterRef)


def move(name: str) -> tuple[str, str]:
    """The one (from, to) pair of `TRANSITIONS` named `name`; ValueError unless there is one."""
    pairs = [pair for pair, kind in TRANSITIONS.items() if kind == name]
    if len(pairs) != 1:
        raise ValueError(f"the status machine has {len(pairs)} moves named {name!r}")
    return tuple(str(status) for status in pairs[0])


LEASE = Clamped("lease_duration", low=timedelta(seconds=1), high=MAX_LEASE)
STEP_DELAY = Clamped("delay", low=timedelta(0), high=MAX_STEP_DELAY)

# Claim: the longest-waiting ready phase of an active account, narrowed by the bot's lists
# (each only when given), skipping rows other claimers hold rather than waiting on them, and
# only while the claiming bot (Given "bot") is active: a request may be authenticated from the
# token cache after the bot was deactivated.
CLAIM_FROM, CLAIM_TO = move("claim")
CLAIMABLE = (
    Condition("status", "exact", CLAIM_FROM),
    Condition("next_attempt_at", "lte", NOW),
    Condition("account__status", "exact", A.ACTIVE),
)
CLAIM_NARROWING = {
    "platforms": Condition("account__platform", "in", Given("platforms")),
    "phase_types": Condition("phase_type", "in", Given("phase_types")),
    "plans": Condition("account__plan__slug", "in", Given("plans")),
}
CLAIM_ORDER = ("next_attempt_at", "id")
CLAIM_SKIPS_LOCKED = True
CLAIMER = (Condition("is_active", "exact", True),)  # of the Bot
# What a claim writes beside the status, and the attempt it opens (from the claimed row).
CLAIM_WRITES = {
    "bot_id": Given("bot"),
    "lease_token": Given("token"),
    "lease_expires_at": Later(LEASE),
    "attempt_count": Column("attempt_count", add=1),
    "updated_at": NOW,
}
ATTEMPT_OPENED = {
    "phase_id": Column("id"),
    "number": Column("attempt_count"),
    "bot_id": Column("bot_id"),
    "lease_token": Column("lease_token"),
    "content_id": Column("content_id"),
    "claimed_at": NOW,
}

# A report (heartbeat, completion, failure) counts only from the bot that holds the phase's
# lease, under that lease's token (LEASE_HELD), before the lease ran out (LEASE_LIVE).
LEASE_HELD = (
    Condition("status", "exact", S.IN_PROGRESS),
    Condition("lease_token", "exact", Given("token")),
    Condition("bot_id", "exact", Given("bot")),
)
LEASE_LIVE = (Condition("lease_expires_at", "gt", NOW),)

# Breakers (`warmup.services.breaker`, one per incident): a breaker covers the phases of its plan
# step (Column: of the phase claimed), on its platform and for its bot when it names them. A
# live one (not closed) blocks them until its cool-down ends; then each claim of its scope
# takes one of its trial claims (BREAKER_TRIAL_TAKEN, under the breaker's row lock), and once
# none is left it blocks them again until its trials decide (it closes, or a failure reopens
# it). A claim leaves blocked phases alone (CLAIM_UNBLOCKED), and a claim of a phase whose
# trial it could not take (another claim took the last) hands out nothing.
BREAKER_SCOPE = (
    Condition("phase_type", "exact", Column("phase_type")),
    Either(
        (Condition("platform", "exact", ""), Condition("platform", "exact", Column("platform")))
    ),
    Either((Condition("bot", "isnull", True), Condition("bot", "exact", Given("bot")))),
)
BREAKER_COVERS = (Condition("closed_at", "isnull", True), *BREAKER_SCOPE)  # live, in scope
BREAKER_BLOCKS = (
    *BREAKER_COVERS,
    Either((Condition("cooldown_until", "gt", NOW), Condition("trials_left", "exact", 0))),
)
BREAKER_TRIAL = (
    *BREAKER_COVERS,
    Condition("cooldown_until", "lte", NOW),
    Condition("trials_left", "gt", 0),
)
BREAKER_TRIAL_TAKEN = {"trials_left": Column("trials_left", add=-1)}
CLAIM_UNBLOCKED = NoneOf(Breaker, BREAKER_BLOCKS)
HEARTBEAT_WRITES = {"lease_expires_at": Later(LEASE), "updated_at": NOW}

# Completion: the lease ends (LEASE_RELEASED) and the phase records when and how it completed
# (COMPLETED, also what a reviewer's completion writes); the attempt closes with the result.
COMPLETE_FROM, COMPLETE_TO = move("complete")
COMPLETED = {"completed_at": NOW, "completion_method": Given("method"), "next_attempt_at": None}
BOT_COMPLETION = {**COMPLETED, "updated_at": NOW}
ATTEMPT_COMPLETED = {
    "finished_at": NOW,
    "outcome": str(AttemptOutcome.COMPLETED),
    "result": Given("result"),
}

# The unlock after a completion: the account's first phase after the completed one (Column:
# of the completed row) still in UNLOCK_FROM gets its time, now plus its step's delay, and
# moves to UNLOCK_TO at once when that delay is none.
UNLOCK_FROM, UNLOCK_TO = move("unlock")
NEXT_PHASE = (
    Condition("status", "exact", UNLOCK_FROM),
    Condition("account_id", "exact", Column("account_id")),
    Condition("order", "gt", Column("order")),
)
NEXT_PHASE_ORDER = ("order",)
UNLOCK_WRITES = {"available_at": Later(STEP_DELAY), "updated_at": NOW}


def value_of(value, row=None, **given):
    """A declared value, for `row` (its template for `Later`) and the `given` values."""
    if isinstance(value, Given):
        return given[value.name]
    if isinstance(value, Column):
        return getattr(row, value.name) + value.add if value.add else getattr(row, value.name)
    if isinstance(value, Later):
        return given["now"] + value.duration.of(row.template)
    return value


def written(writes: dict, row=None, **given) -> dict:
    """The fields a declared move writes, for `row` (OWN_ROW: in the UPDATE, from the row's own
    columns) and the `given` values."""
    return {name: value_of(value, row, **given) for name, value in writes.items()}


def matching(conditions, row=None, **given) -> Q:
    """The declared `conditions` as a queryset filter; a Column is one of `row` (an instance,
    or OUTER_ROW: the row of the query around)."""
    return Q(*(_matching(condition, row, **given) for condition in conditions))


def _matching(condition, row, **given) -> Q | Any:
    if isinstance(condition, Either):
        alternatives = [_matching(c, row, **given) for c in condition.conditions]
        return reduce(operator.or_, alternatives)
    if isinstance(condition, NoneOf):
        rows = condition.model.objects.filter(matching(condition.conditions, OUTER_ROW, **given))
        return ~Exists(rows)
    return Q(**{f"{condition.path}__{condition.lookup}": value_of(condition.value, row, **given)})


def holds(row, conditions, **given) -> bool:
    """Whether `row` (an instance, its relations followed) meets the declared `conditions`."""
    return all(_holds(row, condition, **given) for condition in conditions)


def _holds(row, condition, **given) -> bool:
    if isinstance(condition, Either):
        return any(_holds(row, alternative, **given) for alternative in condition.conditions)
    if isinstance(condition, NoneOf):
        rows = condition.model.objects.filter(matching(condition.conditions, row, **given))
        return not rows.exists()
    left = row
    for name in condition.path.split("__"):
        left = getattr(left, name)
    right = value_of(condition.value, row, **given)
    if condition.lookup == "exact":
        # A token may come as a UUID or its text, a status as a member or its value.
        return left == right or (None not in (left, right) and str(left) == str(right))
    if condition.lookup == "in":
        return left in right
    if condition.lookup == "isnull":
        return (left is None) == right
    if None in (left, right):
        return False
    return _COMPARE[condition.lookup](left, right)


_COMPARE = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


# --- Accounts --------------------------------------------------------------------------------

# (from, to) -> what the move is. A suspended or paused account's phases are not claimed.
ACCOUNT_TRANSITIONS: dict[tuple[str, str], str] = {
    (A.ACTIVE, A.SUSPENDED): "suspend",
    (A.PAUSED, A.SUSPENDED): "suspend",
    (A.ACTIVE, A.PAUSED): "pause",
    (A.SUSPENDED, A.ACTIVE): "reactivate",
    (A.PAUSED, A.ACTIVE): "reactivate",
}

# What a refused move says, by where it was meant to go.
_ACCOUNT_REFUSALS = {A.ACTIVE: ACCOUNT_ALREADY_ACTIVE, A.PAUSED: ACCOUNT_NOT_PAUSABLE}


def check_account_transition(account: Account, to_status: str) -> None:
    """Raise InvalidTransition unless `account` may move to `to_status`."""
    if (account.status, to_status) not in ACCOUNT_TRANSITIONS:
        current, to_status = str(account.status), str(to_status)
        message = _ACCOUNT_REFUSALS.get(to_status, ACCOUNT_MOVE_NOT_ALLOWED)
        raise InvalidTransition(
            message.format(account=account, status=current, target=to_status),
            refusal=Refusal.ACCOUNT_STATUS,
            current_status=current,
            target_status=to_status,
            status=current,
        )


def apply_account_transition(account: Account, to_status: str) -> Account:
    """Move `account` to `to_status` (and stamp `status_changed_at`), in the caller's
    transaction with the row locked; InvalidTransition if the table refuses the move or the
    stored status changed meanwhile."""
    check_account_transition(account, to_status)
    now = timezone.now()
    updated = Account.objects.filter(pk=account.pk, status=account.status).update(
        status=to_status, status_changed_at=now
    )
    if updated != 1:
        current = Account.objects.filter(pk=account.pk).values_list("status", flat=True).first()
        raise InvalidTransition(
            ACCOUNT_MOVE_NOT_ALLOWED.format(account=account, status=current, target=to_status),
            refusal=Refusal.ACCOUNT_STATUS,
            current_status=current or "",
            target_status=to_status,
            status=current or "",
        )
    _log_change(
        "account_status_changed",
        account=account.pk,
        **{"from": str(account.status), "to": str(to_status)},
    )
    account.status, account.status_changed_at = str(to_status), now
    return account
