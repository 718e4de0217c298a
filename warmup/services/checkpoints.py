"""Review log checkpoints: the scheduler signs the state of the log every few minutes, so a
chain cut or rewritten at its end shows (SECURITY.md, "Checkpoints of the review log").

A checkpoint (warmup.domain.checkpoints) states the rows up to a row id: their count and the
Merkle root over every chain's head, signed with REVIEW_LOG_CHECKPOINT_KEY from the
environment. Its row, the heads that moved since the checkpoint before, a structured log line
and the /metrics gauges (config.monitoring) carry it; the line and the gauge are the copies
outside the database.

Side effects: one ReviewLogCheckpoint row and its moved heads in one transaction; the
`review_log_checkpoint` log line after commit; nothing without the key.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max

from reviews.models import ReviewLog, ReviewLogCheckpoint, ReviewLogCheckpointHead
from warmup.domain.checkpoints import Statement, head_leaf
from warmup.domain.merkle import MerkleRoot
from warmup.selectors.checkpoints import (
    HEADS_CHUNK,
    latest_checkpoint,
    log_heads,
    rows_up_to,
    statement_of,
    stored_heads,
)

log = structlog.get_logger("warmup.checkpoints")

# How long a checkpoint waits for log writers that were under way when it chose its last row.
SETTLE_SECONDS = 5.0
_SETTLE_POLL = 0.05


def checkpoint_key() -> str:
    """The signing key (read when used: tests and operators change it)."""
    return settings.REVIEW_LOG_CHECKPOINT_KEY


def checkpoint_interval() -> timedelta:
    return timedelta(seconds=settings.REVIEW_LOG_CHECKPOINT_SECONDS)


def checkpoints_write_due(*, now: datetime) -> Statement | None:
    """Write a checkpoint when the latest is REVIEW_LOG_CHECKPOINT_SECONDS old (or there is
    none) and the key is set; the scheduler calls this on every tick. The new checkpoint, or
    None."""
    if not checkpoint_key():
        return None
    latest = latest_checkpoint()
    if latest is not None and now - latest.created_at < checkpoint_interval():
        return None
    return checkpoint_write(now=now)


def checkpoint_write(*, now: datetime) -> Statement | None:
    """Sign the log's state up to its last settled row and store it; None (logged) when the
    key is missing, the writers did not settle, or the log no longer holds what the previous
    checkpoint signed (then it signs nothing: `check_warmup_integrity` names the chains).

    Cost: one pass over every chain's head (`log_heads`), feeding two roots at once: the new
    one, and the previous checkpoint's recomputed (consistency: the log still extends it). On
    PostgreSQL with a million chains and 2.5 million rows (partitioned, a busy 2-core
    machine): 6 to 7 s, the first checkpoint, which stores every chain's head, included.
    """
    key = checkpoint_key()
    if not key:
        return None
    previous = latest_checkpoint()
    if previous is not None and not statement_of(previous).verifies(key):
        return _refused("mac", previous)
    last_row = _settled_last_row()
    if last_row is None:
        log.warning("review_log_checkpoint_postponed", reason="writers_busy")
        return None
    # One transaction: the heads pass without PostgreSQL's JIT, which spends seconds compiling
    # a query that runs once every few minutes; the rows and heads stored at its end.
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        return _sign(previous=previous, last_row=last_row, now=now, key=key)


def _sign(
    *, previous: ReviewLogCheckpoint | None, last_row: int, now: datetime, key: str
) -> Statement | None:
    """`checkpoint_write` from its settled last row on: check the log against `previous`,
    sign and store the new checkpoint."""
    prev_last = previous.last_row if previous is not None else 0
    moved: dict = {}
    if previous is not None:
        if last_row < prev_last or rows_up_to(prev_last) != previous.rows:
            return _refused("rows_gone", previous)
        moved = _moved_heads(previous=previous, last_row=last_row)
        recorded = {head for head in moved.values() if head is not None}
        if stored_heads(recorded) != recorded:
            return _refused("head_gone", previous)

    # The previous checkpoint's heads: a chain without rows after its last row has the same
    # head now; a moved chain had the head it recorded (merged in, in leaf order).
    then_moved = sorted(
        (kind, chain, *head) for (kind, chain), head in moved.items() if head is not None
    )
    tree, then, fresh, waiting = MerkleRoot(), MerkleRoot(), [], 0
    for head in log_heads(up_to=last_row):
        tree.add(head_leaf(*head))
        if head[2] > prev_last:
            fresh.append(head)
        while waiting < len(then_moved) and then_moved[waiting][:2] < head[:2]:
            then.add(head_leaf(*then_moved[waiting]))
            waiting += 1
        if head[:2] not in moved:
            then.add(head_leaf(*head))
        elif waiting < len(then_moved) and then_moved[waiting][:2] == head[:2]:
            then.add(head_leaf(*then_moved[waiting]))
            waiting += 1
    for head in then_moved[waiting:]:
        then.add(head_leaf(*head))
    if previous is not None and then.root().hex() != previous.root:
        return _refused("changed_below", previous)

    statement = Statement(
        number=previous.number + 1 if previous is not None else 1,
        created_at=now,
        last_row=last_row,
        rows=rows_up_to(last_row),
        chains=tree.size,
        root=tree.root().hex(),
    ).signed(key)
    ReviewLogCheckpoint.objects.create(
        number=statement.number,
        created_at=statement.created_at,
        last_row=statement.last_row,
        rows=statement.rows,
        chains=statement.chains,
        root=statement.root,
        mac=statement.mac,
    )
    _store_heads(statement.number, fresh)
    fields = json.loads(statement.line())
    transaction.on_commit(lambda: log.info("review_log_checkpoint", **fields))
    return statement


def _store_heads(number: int, heads: list) -> None:
    """The moved heads of checkpoint `number`: by COPY on PostgreSQL (the first checkpoint of
    a big log has a head per chain, a million rows: seconds, not the minute bulk_create
    takes), bulk_create elsewhere."""
    if connection.vendor != "postgresql":
        ReviewLogCheckpointHead.objects.bulk_create(
            [
                ReviewLogCheckpointHead(number=number, kind=kind, chain=chain, row=row, hash=digest)
                for kind, chain, row, digest in heads
            ],
            batch_size=HEADS_CHUNK,
        )
        return
    table = connection.ops.quote_name(ReviewLogCheckpointHead._meta.db_table)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(
            f'COPY {table} ("number", "kind", "chain", "row", "hash") FROM STDIN'
        ) as copy:
            for head in heads:
                copy.write_row((number, *head))


def _refused(reason: str, previous: ReviewLogCheckpoint) -> None:
    """Sign nothing over a log that no longer holds what `previous` signed (or a `previous`
    that does not verify): an error line; the checker names the chains."""
    log.error(
        "review_log_checkpoint_refused",
        reason=reason,
        previous=previous.number,
        hint="run manage.py check_warmup_integrity",
    )
    return None


def _settled_last_row() -> int | None:
    """The highest log row id below which no row can still appear, or None if writers under
    way when it was read did not finish within SETTLE_SECONDS (the next tick tries again).

    On PostgreSQL a row id is taken from the sequence while its transaction is open, so a
    smaller id than the newest committed one may still commit. Every log writer holds a row
    lock (its phase's or account's) before it inserts, so it already has a transaction id:
    waiting until the sessions of this database that held one when the id was read have ended
    that transaction (our own aside) leaves no uncommitted row below it; a writer that starts
    later draws a higher id. Sessions of other databases on the server are not waited for. The
    app's sessions run as one role, whose transaction ids pg_stat_activity shows it.
    SQLite has one writer at a time, and ids only grow.
    """
    if connection.vendor != "postgresql":
        return ReviewLog.objects.aggregate(last=Max("id"))["last"] or 0
    running_sql = (
        "SELECT ARRAY(SELECT pid || ':' || backend_xid FROM pg_stat_activity"
        " WHERE datname = current_database() AND backend_xid IS NOT NULL"
        " AND pid <> pg_backend_pid()"
    )
    with connection.cursor() as cursor:
        # pg_stat_activity is read once per transaction unless told to read it afresh.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            f"SELECT COALESCE((SELECT MAX(id) FROM reviews_reviewlog), 0), ({running_sql}))"
        )
        last_row, running = cursor.fetchone()
        deadline = time.monotonic() + SETTLE_SECONDS
        while running:
            if time.monotonic() > deadline:
                return None
            time.sleep(_SETTLE_POLL)
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(f"{running_sql} AND pid || ':' || backend_xid = ANY(%s))", [running])
            (running,) = cursor.fetchone()
    return last_row


def _moved_heads(*, previous: ReviewLogCheckpoint, last_row: int) -> dict:
    """The chains with rows after the previous checkpoint's last row: their heads as it
    recorded them ((kind, chain) -> (row, hash), or None for a chain it did not know)."""
    chains = {
        (kind, chain)
        for kind, field in (("account", "account_id"), ("phase", "phase_id"))
        for chain in ReviewLog.objects.filter(
            id__gt=previous.last_row, id__lte=last_row, **{f"{field}__isnull": False}
        )
        .filter(phase__isnull=kind == "account")
        .order_by()
        .values_list(field, flat=True)
        .distinct()
    }
    moved: dict = dict.fromkeys(chains)
    for kind in ("account", "phase"):
        ids = [chain for k, chain in chains if k == kind]
        for start in range(0, len(ids), HEADS_CHUNK):
            for row in (
                ReviewLogCheckpointHead.objects.filter(
                    kind=kind,
                    chain__in=ids[start : start + HEADS_CHUNK],
                    number__lte=previous.number,
                )
                .order_by("chain", "number")
                .values_list("chain", "row", "hash")
            ):
                moved[(kind, row[0])] = (row[1], row[2])
    return moved
