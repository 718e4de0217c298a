"""Reads for review log checkpoints: every chain's head up to a row, the heads a checkpoint
recorded, and the checkpoints themselves. The writer is `warmup.services.checkpoints`, the
checker `warmup.selectors.integrity`; what is signed is `warmup.domain.checkpoints`.

Months archived by `manage.py archive_history` still count: a chain's head may be its last
row in an archived month (ArchivedChainHead), and the rows counted up to a row include the
archived ones, so archiving or restoring a month changes no checkpoint's figures. Only a
checkpoint whose last row falls inside an archived month's ids sees heads it cannot know (the
archive keeps a chain's last row of the month, not the ones before it).

Heads come in leaf order (warmup.domain.checkpoints): account chains by account id, then phase
chains by phase id, as (kind, chain id, row id, hash) rows streamed from a server-side cursor.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection
from django.db.models import Exists, Max, OuterRef, QuerySet

from reviews.models import (
    ArchivedChainHead,
    ArchivedMonth,
    ReviewLog,
    ReviewLogCheckpoint,
    ReviewLogCheckpointHead,
)
from warmup.domain.checkpoints import Statement

HEADS_CHUNK = 5000

Head = tuple[str, int, int, str]


def _last_rows(rows: QuerySet, chain_field: str) -> QuerySet:
    """The last row (highest id) of each `chain_field` among `rows`, ordered by it.

    PostgreSQL: one DISTINCT ON (chain) ... ORDER BY chain, id DESC; for phases it walks
    reviewlog_chain_idx (phase, id) with an incremental sort inside each phase, for accounts
    the account's index. Elsewhere (SQLite): the rows whose id is their chain's MAX(id).
    """
    if connection.vendor == "postgresql":
        return rows.order_by(chain_field, "-id").distinct(chain_field)
    newest = rows.order_by().values(chain_field).annotate(newest=Max("id")).values("newest")
    return ReviewLog.objects.filter(pk__in=newest).order_by(chain_field)


def log_heads(*, up_to: int) -> Iterator[Head]:
    """Every chain's last row with an id up to `up_to`, in leaf order, archived months
    included: two set-based queries (account chains, then phase chains), no query per chain,
    merged with the archived heads' one query when a month is archived."""
    live = _live_heads(up_to=up_to)
    if not ArchivedChainHead.objects.exists():
        yield from live
        return
    archived = (
        ArchivedChainHead.objects.filter(row__lte=up_to)
        .order_by("kind", "chain", "-row")
        .distinct("kind", "chain")
        .values_list("kind", "chain", "row", "hash")
        .iterator(chunk_size=HEADS_CHUNK)
    )
    a, b = next(live, None), next(archived, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[:2] < b[:2]):
            yield a
            a = next(live, None)
        elif a is None or b[:2] < a[:2]:
            yield b
            b = next(archived, None)
        else:  # the chain has rows on both sides: its head is the later row
            yield a if a[2] > b[2] else b
            a, b = next(live, None), next(archived, None)


def _live_heads(*, up_to: int) -> Iterator[Head]:
    rows = ReviewLog.objects.filter(id__lte=up_to)
    for kind, chain_field, rows_of_kind in (
        ("account", "account_id", rows.filter(phase__isnull=True)),
        ("phase", "phase_id", rows.filter(phase__isnull=False)),
    ):
        heads = _last_rows(rows_of_kind, chain_field).values_list(chain_field, "id", "hash")
        for chain, row, digest in heads.iterator(chunk_size=HEADS_CHUNK):
            yield kind, chain, row, digest


def recorded_heads(*, number: int) -> Iterator[Head]:
    """Every chain's head as checkpoint `number` recorded it (the chain's head row of the
    highest checkpoint number up to `number`), in leaf order."""
    heads = ReviewLogCheckpointHead.objects.filter(number__lte=number)
    if connection.vendor == "postgresql":
        latest = heads.order_by("kind", "chain", "-number").distinct("kind", "chain")
    else:
        later = ReviewLogCheckpointHead.objects.filter(
            kind=OuterRef("kind"),
            chain=OuterRef("chain"),
            number__gt=OuterRef("number"),
            number__lte=number,
        )
        latest = heads.filter(~Exists(later)).order_by("kind", "chain")
    yield from latest.values_list("kind", "chain", "row", "hash").iterator(chunk_size=HEADS_CHUNK)


def statement_of(checkpoint: ReviewLogCheckpoint) -> Statement:
    return Statement(
        number=checkpoint.number,
        created_at=checkpoint.created_at,
        last_row=checkpoint.last_row,
        rows=checkpoint.rows,
        chains=checkpoint.chains,
        root=checkpoint.root,
        mac=checkpoint.mac,
    )


def latest_checkpoint() -> ReviewLogCheckpoint | None:
    return ReviewLogCheckpoint.objects.order_by("-number").first()


def rows_up_to(last_row: int) -> int:
    """How many log rows have an id up to `last_row` (a range of the primary key), the rows of
    archived months included (their manifests counted them: all of a month's rows when its ids
    end below `last_row`, or the count it noted for a checkpoint's last row inside them)."""
    count = ReviewLog.objects.filter(id__lte=last_row).count()
    for rows, last, manifest in ArchivedMonth.objects.filter(
        table=ReviewLog._meta.db_table, first_row__lte=last_row
    ).values_list("rows", "last_row", "manifest"):
        if last <= last_row:
            count += rows
        else:
            count += manifest.get("rows_up_to", {}).get(str(last_row), 0)
    return count


def stored_heads(heads: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """The (row id, hash) the log holds now, in its table or archived, for the rows of
    `heads` ((row id, hash)): equal to `heads` when none is gone or rewritten."""
    ids = [row for row, _ in heads]
    found = set(ReviewLog.objects.filter(pk__in=ids).values_list("id", "hash"))
    found |= set(ArchivedChainHead.objects.filter(row__in=ids).values_list("row", "hash"))
    return found
