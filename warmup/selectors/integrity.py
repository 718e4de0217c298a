"""Integrity checks over phases, attempts and the ReviewLog: the promises the services keep,
verified from the stored rows alone (`manage.py check_warmup_integrity`), and the ReviewLog's
hash chains recomputed.

Each check is one set-based query (no query per phase) and returns the violations it found;
`check_integrity()` runs them all. The costs below are for PostgreSQL with the indexes the
models declare; "phases" means the whole WarmupPhase table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Trim

from config.partitions import Month, default_rows
from reviews.models import ArchivedChainHead, ArchivedMonth, ReviewLog, ReviewLogCheckpoint
from warmup.domain import errors
from warmup.domain.checkpoints import STATEMENT_FIELDS, Statement, head_leaf
from warmup.domain.choices import (
    AUTOMATED_RESOLUTIONS,
    ENTERS_REVIEW,
    RESOLUTION_ACTIONS,
    ActorType,
)
from warmup.domain.merkle import MerkleRoot
from warmup.lifecycle.chain import CHAIN_START, CHAINED_FIELDS, chain_of, row_hash
from warmup.models import (
    ACTIVE_STATUSES,
    FailureDecision,
    PhaseAttempt,
    PhaseStatus,
    WarmupPhase,
)
from warmup.selectors.checkpoints import (
    Head,
    latest_checkpoint,
    log_heads,
    recorded_heads,
    rows_up_to,
    statement_of,
    stored_heads,
)

S = PhaseStatus


@dataclass(frozen=True)
class Violation:
    """One broken promise: which check, the ids of the rows involved, and a line saying it."""

    check: str
    ids: dict[str, int] = field(default_factory=dict)
    message: str = ""

    def __str__(self):
        return f"{self.check}: {self.message}"


# --- Phases in review --------------------------------------------------------------------


def check_review_entries() -> Iterator[Violation]:
    """Every review_required phase has the log row that put it there.

    "The row that put it there" is the phase's latest status-moving row (by id, the order rows
    of one phase are written in under its lock; to_status set and different from from_status):
    it must lead to review_required and be an escalation, a hold or an undone resolution. A
    time rule would not do: an undo gives the phase back its old review clock, and a tick may
    run with a `now` of its own. Moves no row records (claims, retries, completions by a bot)
    never leave or enter review, so they cannot come between.

    Cost: the review queue's partial index (phase_review_queue_idx) lists the phases in review;
    for each, the few log rows of that phase through reviewlog_chain_idx (phase, id).
    """
    moves = (
        ReviewLog.objects.filter(phase=OuterRef("pk"))
        .exclude(to_status="")
        .exclude(to_status=F("from_status"))
        .order_by("-id")
    )
    last = ReviewLog.objects.filter(pk=OuterRef("last_move"))
    rows = (
        WarmupPhase.objects.filter(status=S.REVIEW_REQUIRED)
        .annotate(last_move=Subquery(moves.values("id")[:1]))
        .annotate(
            entered=Exists(last.filter(to_status=S.REVIEW_REQUIRED, action__in=ENTERS_REVIEW)),
            last_action=Subquery(last.values("action")[:1]),
        )
        .filter(entered=False)
        .values_list("pk", "last_move", "last_action")
        .order_by("pk")
    )
    for phase_id, row_id, action in rows:
        row = f"row {row_id}, {action}" if row_id else "none"
        yield Violation(
            "review_entry",
            {"phase": phase_id, **({"row": row_id} if row_id else {})},
            errors.INTEGRITY_REVIEW_WITHOUT_ENTRY.format(phase_id=phase_id, row=row),
        )


# --- Resolution rows ---------------------------------------------------------------------


def check_resolution_rows() -> Iterator[Violation]:
    """Every resolution row (resolution_method set, or a resolution's action) has its method,
    a reason code, a non-blank note, a user who resolved and a time in review.

    Cost: one sequential scan of the log (resolution rows have no index of their own); the
    database's check constraint already insists on the reason code and the time.
    """
    missing = {
        "a method": Q(resolution_method=""),
        "a reason code": Q(reason_code=""),
        "a note": Q(trimmed_note=""),
        "a user who resolved it": ~Q(actor_type=ActorType.USER) | Q(actor_user__isnull=True),
        "a time in review": Q(time_in_review__isnull=True),
    }
    broken = Q()
    for condition in missing.values():
        broken |= condition
    rows = (
        ReviewLog.objects.filter(
            ~Q(resolution_method="") | Q(action__in=list(RESOLUTION_ACTIONS.values()))
        )
        .annotate(trimmed_note=Trim("note"))
        .filter(broken)
        .annotate(**{f"lacks_{i}": Q(cond) for i, cond in enumerate(missing.values())})
        .values("pk", "phase_id", "action", *[f"lacks_{i}" for i in range(len(missing))])
        .order_by("pk")
    )
    for row in rows:
        lacks = [what for i, what in enumerate(missing) if row[f"lacks_{i}"]]
        yield Violation(
            "resolution_row",
            {"row": row["pk"], "phase": row["phase_id"]},
            errors.INTEGRITY_RESOLUTION_INCOMPLETE.format(
                row_id=row["pk"],
                action=row["action"],
                phase_id=row["phase_id"],
                missing=", ".join(lacks),
            ),
        )


# --- Leases ------------------------------------------------------------------------------


def check_leases() -> Iterator[Violation]:
    """No in_progress phase without a lease (bot, token, expiry), and no lease (token or
    expiry) on a phase in any other status. The database's check constraints refuse both; this
    catches a database where they were dropped or bypassed.

    Cost: one sequential scan of the phases (a lease left outside in_progress can sit on any
    row; in_progress rows alone would be read through phase_lease_expiry_idx).
    """
    no_lease = Q(lease_token__isnull=True) | Q(lease_expires_at__isnull=True) | Q(bot__isnull=True)
    some_lease = Q(lease_token__isnull=False) | Q(lease_expires_at__isnull=False)
    rows = (
        WarmupPhase.objects.filter(
            (Q(status=S.IN_PROGRESS) & no_lease) | (~Q(status=S.IN_PROGRESS) & some_lease)
        )
        .values_list("pk", "status")
        .order_by("pk")
    )
    for phase_id, status in rows:
        if status == S.IN_PROGRESS:
            message = errors.INTEGRITY_IN_PROGRESS_WITHOUT_LEASE.format(phase_id=phase_id)
        else:
            message = errors.INTEGRITY_LEASE_OUTSIDE_IN_PROGRESS.format(
                phase_id=phase_id, status=status
            )
        yield Violation("lease", {"phase": phase_id}, message)


def check_platforms() -> Iterator[Violation]:
    """Every phase carries its account's platform (copied at enrolment for the queue's
    filter; an account keeps its platform for life). Cost: one join of the phases to the
    accounts."""
    rows = (
        WarmupPhase.objects.exclude(platform=F("account__platform"))
        .values_list("pk", "platform", "account_id", "account__platform")
        .order_by("pk")
    )
    for phase_id, phase_platform, account_id, platform in rows:
        message = errors.INTEGRITY_PLATFORM_MISMATCH.format(
            phase_id=phase_id,
            phase_platform=phase_platform,
            account_id=account_id,
            platform=platform,
        )
        yield Violation("platform", {"phase": phase_id, "account": account_id}, message)


# --- One active phase per account --------------------------------------------------------


def check_one_active_phase() -> Iterator[Violation]:
    """At most one active phase (available, content_assigned, in_progress, review_required)
    per account; one line per phase of an account that has several.

    Cost: the active phases only (the unique partial index phase_one_active_per_account holds
    exactly them, by account), grouped by account.
    """
    crowded = (
        WarmupPhase.objects.filter(status__in=ACTIVE_STATUSES)
        .values("account_id")
        .annotate(active=Count("id"))
        .filter(active__gt=1)
        .values("account_id")
    )
    rows = (
        WarmupPhase.objects.filter(status__in=ACTIVE_STATUSES, account_id__in=Subquery(crowded))
        .values_list("account_id", "pk", "status")
        .order_by("account_id", "pk")
    )
    for account_id, phase_id, status in rows:
        yield Violation(
            "one_active_phase",
            {"account": account_id, "phase": phase_id},
            errors.INTEGRITY_SEVERAL_ACTIVE.format(
                account_id=account_id, phase_id=phase_id, status=status
            ),
        )


# --- Retry counts ------------------------------------------------------------------------


def check_retry_counts() -> Iterator[Violation]:
    """Retry counts agree with the attempts since the phase last (re)entered automation.

    How retry_count moves: a failure the policy retries sets it to one more and records the
    new value on the attempt (decision retry_scheduled, retry_count_after); a resume or a
    retry-now resolution sets it to 0; the undo of a bulk resolution gives back the value the
    phase had before that resolution (and is refused once a bot claimed the phase since); no
    other move touches it. So after the phase's latest retried attempt A, retry_count is either
    A.retry_count_after (no reset since) or 0 (reset by a resume or retry since), and with no
    retried attempt at all it is 0.

    That is the rule checked: retry_count is 0 when the phase has no retried attempt; otherwise
    it equals retry_count_after of its latest retried attempt, or it is 0 and the phase has a
    resume or retry resolution. The exact count ("retried attempts claimed after the last
    reset") cannot be checked: a reset (a log row) and an attempt are ordered only by wall
    clocks of different processes or servers, and log rows do not record the attempt number,
    so whether a reset came before or after an attempt is not in the data. Hence the bound
    above, which holds whatever the clocks say: it still catches a count that grew without a
    retried attempt, one not reset to a known value, and one left behind by a lost attempt.

    Cost: one pass over the phases and one over the retried attempts, then, per phase with a
    count or a retried attempt (not every phase), one probe of the attempts' (phase, number)
    unique index read backwards and one of the log's (phase, id) index.
    """
    retried = PhaseAttempt.objects.filter(
        phase=OuterRef("pk"), decision=FailureDecision.RETRY_SCHEDULED
    ).order_by("-number")
    # Resume and retry hand the phase back to bots with a fresh retry budget (retry_count 0).
    reset = ReviewLog.objects.filter(
        phase=OuterRef("pk"), resolution_method__in=AUTOMATED_RESOLUTIONS
    )
    # A phase made before the end of the newest archived month of attempts may have had its
    # retried attempts archived (`manage.py archive_history`): with none left, its count is
    # not judged. Archived attempts are older than every attempt still here, so a phase with
    # a retried attempt left still has its latest one.
    archived_through = _attempts_archived_through()
    unknown = Q(created_at__lt=archived_through) if archived_through else Q(pk__in=[])
    # Only a phase with a count, or with a retried attempt, can break the rule: those are read
    # (the retried attempts in one pass), not every phase with two probes each.
    candidates = WarmupPhase.objects.filter(
        Q(retry_count__gt=0)
        | Q(
            pk__in=PhaseAttempt.objects.filter(decision=FailureDecision.RETRY_SCHEDULED).values(
                "phase_id"
            )
        )
    )
    rows = (
        candidates.annotate(
            last_after=Subquery(retried.values("retry_count_after")[:1]),
            was_reset=Exists(reset),
        )
        .filter(
            (Q(last_after__isnull=True, retry_count__gt=0) & ~unknown)
            | (
                Q(last_after__isnull=False)
                & ~Q(retry_count=F("last_after"))
                & ~Q(retry_count=0, was_reset=True)
            )
        )
        .values_list("pk", "retry_count", "last_after")
        .order_by("pk")
    )
    for phase_id, retry_count, last_after in rows:
        if last_after is None:
            expected = "it has no retried attempt, so it should be 0"
        else:
            expected = (
                f"its latest retried attempt left it at {last_after}"
                " (and no resume or retry resolution reset it to 0)"
            )
        yield Violation(
            "retry_count",
            {"phase": phase_id},
            errors.INTEGRITY_RETRY_COUNT.format(
                phase_id=phase_id, retry_count=retry_count, expected=expected
            ),
        )


def _attempts_archived_through():
    """The end of the newest archived month of attempts, or None when none is archived."""
    newest = (
        ArchivedMonth.objects.filter(table=PhaseAttempt._meta.db_table)
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )
    if newest is None:
        return None
    return datetime.fromisoformat(Month.parse(newest).next().start).replace(tzinfo=UTC)


# --- Open attempts -----------------------------------------------------------------------


def check_open_attempts() -> Iterator[Violation]:
    """No attempt left open (finished_at null) on a phase that is not in_progress, and at most
    one open attempt per in_progress phase.

    Cost: one sequential scan of the attempts (open ones have no index of their own: they are
    few, but finding them means reading all), joined to their phases by primary key.
    """
    open_attempts = PhaseAttempt.objects.filter(finished_at__isnull=True)
    another = open_attempts.filter(phase=OuterRef("phase")).exclude(pk=OuterRef("pk"))
    rows = (
        open_attempts.filter(~Q(phase__status=S.IN_PROGRESS) | Exists(another))
        .values_list("pk", "number", "phase_id", "phase__status")
        .order_by("phase_id", "pk")
    )
    for attempt_id, number, phase_id, status in rows:
        ids = {"attempt": attempt_id, "phase": phase_id}
        if status != S.IN_PROGRESS:
            message = errors.INTEGRITY_OPEN_ATTEMPT_OUTSIDE.format(
                attempt_id=attempt_id, number=number, phase_id=phase_id, status=status
            )
        else:
            message = errors.INTEGRITY_SEVERAL_OPEN.format(
                attempt_id=attempt_id, number=number, phase_id=phase_id
            )
        yield Violation("open_attempt", ids, message)


# --- The log's hash chains -----------------------------------------------------------------

CHAIN_CHUNK = 2000


def check_chains() -> Iterator[Violation]:
    """Every ReviewLog hash chain is intact (see warmup.lifecycle.chain); names the first broken
    row of each broken chain: a row whose content no longer matches its hash (changed behind the
    app's back), or whose previous hash is not the hash of the row before it (a row before it
    removed, inserted or rewritten with a new hash). Rows after the first break of a chain are
    not judged: they follow from it.

    Not caught here: rows removed from the end of a chain (nothing comes after to miss them),
    and a chain rewritten whole by someone who can also recompute every hash; the database role
    that may only INSERT and SELECT on the log (docs/operators.md) keeps the app itself from
    doing either, and `check_checkpoints` finds either once a signed checkpoint has seen the chain.

    Cost: the hashes cannot be recomputed in SQL on both databases alike, so one query streams
    the whole log in chain order (phase or account, then id) with a server-side cursor,
    CHAIN_CHUNK rows at a time: one pass, one SHA-256 per row, memory for one chunk, no query
    per row. The ORDER BY sorts the log (or walks reviewlog_chain_idx): on a million rows,
    seconds.
    """
    rows = ReviewLog.objects.order_by("phase_id", "account_id", "id").values(
        "id", "hash", "previous_hash", *CHAINED_FIELDS
    )
    archived = ArchivedChainHead.objects.exists()
    chain, expected, broken, heads = None, CHAIN_START, False, []
    for chunk in _chunks(rows.iterator(chunk_size=CHAIN_CHUNK), CHAIN_CHUNK):
        archived_heads = _archived_heads(chunk) if archived else {}
        for row in chunk:
            key = chain_of(row["phase_id"], row["account_id"])
            if key != chain:
                chain, expected, broken = key, CHAIN_START, False
                heads = archived_heads.get(key, [])
            if broken:
                continue
            # Rows of the chain in archived months before this one: its last hash there.
            while heads and heads[0][0] < row["id"]:
                expected = heads.pop(0)[1]
            violation = _chain_break(row, key, expected)
            if violation is not None:
                broken = True
                yield violation
            expected = row["hash"]


def _chunks(rows: Iterator[dict], size: int) -> Iterator[list[dict]]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _archived_heads(rows: list[dict]) -> dict[tuple[str, int], list[tuple[int, str]]]:
    """The archived months' last (row, hash) of each chain among `rows`, oldest first: where
    the chain goes on after an archived month (`manage.py archive_history`). One query."""
    keys = {chain_of(row["phase_id"], row["account_id"]) for row in rows}
    wanted = Q(pk__in=[])
    for kind in ("account", "phase"):
        ids = [chain for k, chain in keys if k == kind]
        if ids:
            wanted |= Q(kind=kind, chain__in=ids)
    found: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for kind, chain, row, digest in (
        ArchivedChainHead.objects.filter(wanted)
        .order_by("kind", "chain", "row")
        .values_list("kind", "chain", "row", "hash")
    ):
        found.setdefault((kind, chain), []).append((row, digest))
    return found


def _chain_break(row: dict, chain: tuple[str, int], expected: str) -> Violation | None:
    """Why `row` breaks its chain, or None; `expected` is the hash of the row before it."""
    label = f"{chain[0]} {chain[1]}"
    ids = {"row": row["id"], chain[0]: chain[1]}
    if row["previous_hash"] != expected:
        return Violation(
            "chain",
            ids,
            errors.INTEGRITY_CHAIN_LINK.format(
                row_id=row["id"],
                chain=label,
                expected=expected[:12] or "none (first row)",
                found=row["previous_hash"][:12] or "none",
            ),
        )
    if row_hash(row, row["previous_hash"]) != row["hash"]:
        return Violation(
            "chain", ids, errors.INTEGRITY_CHAIN_CONTENT.format(row_id=row["id"], chain=label)
        )
    return None


# --- Checkpoints of the log ---------------------------------------------------------------


def check_checkpoints(*, given: Sequence[int | Statement] = ()) -> Iterator[Violation]:
    """The checkpoints (warmup.services.checkpoints) are whole and the log still holds what
    they signed: every checkpoint's HMAC verifies, their numbers run 1, 2, 3 ... without a gap,
    and the log's chains are checked against the latest checkpoint that verifies and against
    each one `given` (a number, or a Statement copied from its log line or metric: then the
    database's row must exist and say the same). Nothing without REVIEW_LOG_CHECKPOINT_KEY
    (`checkpoint_notes` says so).

    A chain is named when its head at the checkpoint is gone (cut), has another hash
    (rewritten), or has rows below the checkpoint's last row that the checkpoint did not see.

    Cost: one read of the checkpoints table (small: one row per interval); per checkpoint
    checked, one DISTINCT ON over the recorded heads (its index, by chain) and one over the
    log's rows up to its last row (reviewlog_chain_idx), streamed and merged in Python; a
    query for the few chains that differ.
    """
    key = settings.REVIEW_LOG_CHECKPOINT_KEY
    if not key:
        return
    latest = None
    previous = 0
    for checkpoint in ReviewLogCheckpoint.objects.order_by("number").iterator():
        if checkpoint.number != previous + 1:
            for number in range(previous + 1, checkpoint.number):
                yield Violation(
                    "checkpoint",
                    {"checkpoint": number},
                    errors.INTEGRITY_CHECKPOINT_GAP.format(
                        number=number, before=previous or "none", after=checkpoint.number
                    ),
                )
        previous = checkpoint.number
        statement = statement_of(checkpoint)
        if statement.verifies(key):
            latest = statement
        else:
            yield Violation(
                "checkpoint",
                {"checkpoint": checkpoint.number},
                errors.INTEGRITY_CHECKPOINT_MAC.format(number=checkpoint.number),
            )
    against = {latest.number: latest} if latest is not None else {}
    for value in given:
        statement, violations = _given_checkpoint(value, key)
        yield from violations
        if statement is not None:
            against[statement.number] = statement
    for number in sorted(against):
        yield from _log_against(against[number])


def checkpoint_notes(*, checked: Sequence[int | Statement] = ()) -> list[str]:
    """What the checkpoint check could rest on, in a line for the command's output."""
    if not settings.REVIEW_LOG_CHECKPOINT_KEY:
        return [errors.CHECKPOINT_NO_KEY]
    count = ReviewLogCheckpoint.objects.count()
    latest = latest_checkpoint()
    if latest is None:
        return [errors.CHECKPOINT_NONE_YET.format(seconds=settings.REVIEW_LOG_CHECKPOINT_SECONDS)]
    numbers = sorted({latest.number} | {v if isinstance(v, int) else v.number for v in checked})
    return [
        errors.CHECKPOINT_CHECKED.format(numbers=", ".join(str(n) for n in numbers), count=count)
    ]


def _given_checkpoint(value: int | Statement, key: str):
    """The statement to check the log against for one `--checkpoint`, and what is wrong with
    the checkpoint itself."""
    number = value if isinstance(value, int) else value.number
    row = ReviewLogCheckpoint.objects.filter(number=number).first()
    ids = {"checkpoint": number}
    if isinstance(value, int):
        if row is None:
            where = "given with --checkpoint"
            message = errors.INTEGRITY_CHECKPOINT_MISSING.format(number=number, where=where)
            return None, [Violation("checkpoint", ids, message)]
        statement = statement_of(row)
        return (statement if statement.verifies(key) else None), []
    if not value.verifies(key):
        return None, [
            Violation("checkpoint", ids, errors.INTEGRITY_CHECKPOINT_MAC.format(number=number))
        ]
    if row is None:
        where = "its copy given with --checkpoint verifies"
        message = errors.INTEGRITY_CHECKPOINT_MISSING.format(number=number, where=where)
        return value, [Violation("checkpoint", ids, message)]
    stored = statement_of(row)
    differ = [
        name for name in (*STATEMENT_FIELDS, "mac") if getattr(stored, name) != getattr(value, name)
    ]
    if differ:
        message = errors.INTEGRITY_CHECKPOINT_REWRITTEN.format(
            number=number, fields=", ".join(differ)
        )
        return value, [Violation("checkpoint", ids, message)]
    return value, []


def _log_against(statement: Statement) -> Iterator[Violation]:
    """The log's chains up to the checkpoint's last row against the heads it recorded, in one
    merged pass that also recomputes both roots: chains are named only while the recorded
    heads still give the signed root (otherwise they prove nothing, and the log's own root
    says whether it still matches)."""
    number = statement.number
    now = rows_up_to(statement.last_row)
    if now != statement.rows:
        yield Violation(
            "checkpoint",
            {"checkpoint": number},
            errors.INTEGRITY_CHECKPOINT_ROWS.format(
                number=number, rows=statement.rows, last_row=statement.last_row, now=now
            ),
        )
    recorded, current = MerkleRoot(), MerkleRoot()
    differing = list(
        _differing_heads(
            _feeding(recorded, recorded_heads(number=number)),
            _feeding(current, log_heads(up_to=statement.last_row)),
        )
    )
    if current.root().hex() == statement.root:
        differing = []  # the log gives the signed root: whatever differs is in the heads table
    if recorded.root().hex() != statement.root:
        yield Violation(
            "checkpoint",
            {"checkpoint": number},
            errors.INTEGRITY_CHECKPOINT_HEADS.format(number=number),
        )
        if differing:
            yield Violation(
                "checkpoint",
                {"checkpoint": number},
                errors.INTEGRITY_CHECKPOINT_UNNAMED.format(
                    number=number, last_row=statement.last_row
                ),
            )
        return
    stored = dict(stored_heads({then for _, then, _ in differing if then is not None}))
    for (kind, chain), then, current in differing:
        ids = {"checkpoint": number, kind: chain}
        label = f"{kind} {chain}"
        if then is None:
            message = errors.INTEGRITY_CHECKPOINT_ADDED.format(
                chain=label, row_id=current[0], number=number
            )
        elif then[0] not in stored:
            message = errors.INTEGRITY_CHECKPOINT_CUT.format(
                chain=label,
                row_id=then[0],
                number=number,
                now=f"row {current[0]}" if current else "none",
            )
        elif stored[then[0]] != then[1]:
            message = errors.INTEGRITY_CHECKPOINT_HEAD_REWRITTEN.format(
                chain=label, row_id=then[0], number=number
            )
        else:
            message = errors.INTEGRITY_CHECKPOINT_ADDED.format(
                chain=label, row_id=current[0], number=number
            )
        yield Violation("checkpoint", {**ids, "row": (then or current)[0]}, message)


def _feeding(tree: MerkleRoot, heads: Iterator[Head]) -> Iterator[Head]:
    """`heads` as they are, each also added to `tree` as its leaf."""
    for head in heads:
        tree.add(head_leaf(*head))
        yield head


def _differing_heads(recorded: Iterator[Head], current: Iterator[Head]):
    """Merge two streams of heads in leaf order; yield ((kind, chain), recorded (row, hash) or
    None, current (row, hash) or None) for each chain where they differ."""
    a, b = next(recorded, None), next(current, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[:2] < b[:2]):
            yield a[:2], a[2:], None
            a = next(recorded, None)
        elif a is None or b[:2] < a[:2]:
            yield b[:2], None, b[2:]
            b = next(current, None)
        else:
            if a[2:] != b[2:]:
                yield a[:2], a[2:], b[2:]
            a, b = next(recorded, None), next(current, None)


# --- Partitions ---------------------------------------------------------------------------


def check_partitions() -> Iterator[Violation]:
    """No history row in a DEFAULT partition (a month with no partition of its own: made by
    `manage.py history_partitions --adopt`). PostgreSQL only; one count per table."""
    for table, rows in default_rows(connection).items():
        if rows:
            yield Violation(
                "partition", {}, errors.INTEGRITY_DEFAULT_PARTITION.format(table=table, rows=rows)
            )


# --- All checks --------------------------------------------------------------------------

CHECKS: dict[str, Callable[[], Iterator[Violation]]] = {
    "review_entry": check_review_entries,
    "resolution_row": check_resolution_rows,
    "lease": check_leases,
    "platform": check_platforms,
    "one_active_phase": check_one_active_phase,
    "retry_count": check_retry_counts,
    "open_attempt": check_open_attempts,
    "chain": check_chains,
    "checkpoint": check_checkpoints,
    "partition": check_partitions,
}


def check_integrity(
    *, only: list[str] | None = None, checkpoints: Sequence[int | Statement] = ()
) -> list[Violation]:
    """Every violation of every check (or of the checks named in `only`), check by check;
    `checkpoints` are checked too (`check_checkpoints`'s `given`)."""
    names = only or list(CHECKS)
    return [
        violation
        for name in names
        for violation in (
            check_checkpoints(given=checkpoints) if name == "checkpoint" else CHECKS[name]()
        )
    ]


def counted() -> tuple[int, int]:
    """How many phases and log rows there are (for the summary of a clean run)."""
    return WarmupPhase.objects.count(), ReviewLog.objects.count()
