"""Archiving whole months of history (the attempts and the review log, partitioned by month on
PostgreSQL: config/partitions.py) to compressed files, and loading them back.

`history_archive` writes each month older than the retention to `<partition>.copy.gz` (COPY's
text format, gzip) and `<partition>.manifest.json` (row count, the file's sha256, and for the
review log the last row and hash of every chain in the month), then detaches and drops the
partition and keeps the manifest in `ArchivedMonth` (the chains' last rows in
`ArchivedChainHead`), where the integrity checker starts each chain again. A month holding rows
of an item still in review is refused, before anything is written. `history_restore` checks a
file against the month's `ArchivedMonth` record (not the manifest beside it), loads it into the
month's partition again and forgets the archive, so the checker walks the whole chain again.

One archive or restore runs at a time (a session advisory lock, RUN_LOCK), and the strong table
locks are waited for briefly and retried (LOCK_TIMEOUT, LOCK_TRIES), never queued behind a long
reader. What each step locks and how long a month takes: docs/operators.md, "Archiving history".
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction

from config.database import is_lock_not_available
from config.partitions import (
    HISTORY_TABLES,
    Month,
    attach_month,
    columns_of,
    copy_month_out,
    default_holds_before,
    drop_month,
    is_partitioned,
    load_month,
    months_of,
    owns,
    partition_name,
)
from reviews.models import ArchivedChainHead, ArchivedMonth, ReviewLog, ReviewLogCheckpoint
from warmup.domain import errors
from warmup.domain.errors import HistoryRefused
from warmup.models import PhaseAttempt, PhaseStatus

LOG, ATTEMPTS = "reviews_reviewlog", "warmup_phaseattempt"
MANIFEST_FORMAT = 1
# A statement that needs a table's strong lock (the detach and drop, the attach) waits at most
# LOCK_TIMEOUT in the lock queue, where every session that comes after it waits behind it; then
# it leaves the queue for LOCK_PAUSE seconds and tries again, LOCK_TRIES times in all, and the
# run gives up (nothing of the month done) rather than hold the bots up behind a long reader.
LOCK_TIMEOUT = "500ms"
LOCK_TRIES = 5
LOCK_PAUSE = 2.0
# The session-level advisory lock an archive or restore run holds from start to end, so that two
# runs never write the same files or drop the same month (a constant of this project's own).
RUN_LOCK = 0x7761726D_75706869  # "warmuphi"
_MODELS = {LOG: (ReviewLog, "created_at"), ATTEMPTS: (PhaseAttempt, "claimed_at")}
_SHOWN_PHASES = 10


@dataclass
class MonthArchive:
    """One month of one table: what an archive run found, and what it wrote."""

    table: str
    month: Month
    rows: int = 0
    file: Path | None = None
    manifest: Path | None = None
    sha256: str = ""
    chains: int = 0
    seconds: float = 0.0  # how long its transaction took, from the lock to the commit

    @property
    def partition(self) -> str:
        return partition_name(self.table, self.month)


@dataclass
class Restored:
    table: str
    month: Month
    rows: int
    file: Path
    chains: int = 0
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()


def newest_archivable(*, now: datetime, retention: int | None = None) -> Month:
    """The newest month the retention lets go: the current month and the `retention` - 1
    before it are kept."""
    retention = settings.HISTORY_RETENTION_MONTHS if retention is None else retention
    return Month.of(now).next(-retention)


def archive_plan(*, before: Month, now: datetime, force: bool = False) -> list[MonthArchive]:
    """The months of both tables entirely before `before`, oldest first, with their row counts;
    raises HistoryRefused (nothing written) when `before` reaches into the retention (without
    `force`) or the current month, or a month cannot go (an item still in review, rows in the
    DEFAULT partition). Reads only."""
    if connection.vendor != "postgresql":
        raise HistoryRefused(errors.HISTORY_NEEDS_POSTGRES, refusal="needs_postgres")
    current = Month.of(now)
    if (before.year, before.month) > (current.year, current.month):
        raise HistoryRefused(
            errors.HISTORY_NOT_BEFORE_NOW.format(before=before, current=current),
            refusal="current_month",
        )
    kept = newest_archivable(now=now).next()
    if (before.year, before.month) > (kept.year, kept.month) and not force:
        raise HistoryRefused(
            errors.HISTORY_INSIDE_RETENTION.format(
                before=before, retention=settings.HISTORY_RETENTION_MONTHS, kept=kept
            ),
            refusal="retention",
        )
    plan = []
    with connection.cursor() as cursor:
        for table in HISTORY_TABLES:
            if not is_partitioned(cursor, table):
                raise HistoryRefused(errors.HISTORY_NEEDS_POSTGRES, refusal="needs_postgres")
            months = sorted(
                (
                    m
                    for m in months_of(cursor, table)
                    if (m.year, m.month) < (before.year, before.month)
                ),
                key=lambda m: (m.year, m.month),
            )
            if months and not owns(cursor, table):
                raise HistoryRefused(
                    errors.HISTORY_NOT_OWNER.format(table=table), refusal="not_owner"
                )
            # Rows of those months in the DEFAULT partition would stay behind, unarchived.
            if default_holds_before(cursor, table, before):
                raise HistoryRefused(
                    errors.HISTORY_IN_DEFAULT.format(before=before, table=table),
                    refusal="in_default",
                )
            for month in months:
                _refuse_in_review(table, month)
                plan.append(
                    MonthArchive(table=table, month=month, rows=_rows(cursor, table, month))
                )
    return plan


@contextmanager
def _one_run_at_a_time() -> Iterator[None]:
    """Hold the history's advisory lock (session level, RUN_LOCK) for the block; HistoryRefused
    when another archive or restore holds it. Released at the end, or with the session."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK])
        if not cursor.fetchone()[0]:
            raise HistoryRefused(errors.HISTORY_RUNNING, refusal="running")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK])
        except DatabaseError:
            pass  # the connection is gone, and the session's lock went with it


def history_archive(
    *,
    before: Month,
    to: Path,
    now: datetime,
    force: bool = False,
    dry_run: bool = False,
    on_archived: Callable[[MonthArchive], None] | None = None,
) -> list[MonthArchive]:
    """Archive every month `archive_plan` finds (nothing when `dry_run`): per month and table,
    one transaction that locks the partition against writes, writes the file and its manifest,
    drops the partition and stores the manifest; `on_archived(entry)` after each commit. Raises
    HistoryRefused before writing anything when another run is under way, a file is already
    there or a month cannot go."""
    if dry_run:
        return archive_plan(before=before, now=now, force=force)
    if connection.vendor != "postgresql":
        raise HistoryRefused(errors.HISTORY_NEEDS_POSTGRES, refusal="needs_postgres")
    with _one_run_at_a_time():
        plan = archive_plan(before=before, now=now, force=force)
        for entry in plan:
            for path in _paths(to, entry.partition, partial=True):
                if path.exists():
                    raise HistoryRefused(
                        errors.HISTORY_FILE_EXISTS.format(path=path), refusal="file_exists"
                    )
        to.mkdir(parents=True, exist_ok=True)
        for entry in plan:
            started, created = time.monotonic(), []
            try:
                _archive_month(entry, to=to, now=now, created=created)
            except BaseException:
                # A month still in the database: the files this run made would only stand in a
                # rerun's way. A month whose record committed (the failure came after the
                # commit) is gone from the database: its files are the archive, keep them.
                if not _recorded(entry):
                    for path in created:
                        path.unlink(missing_ok=True)
                raise
            entry.seconds = time.monotonic() - started
            if on_archived is not None:
                on_archived(entry)
    return plan


def _paths(to: Path, partition: str, *, partial: bool = False) -> tuple[Path, ...]:
    """The archive and its manifest (and with `partial`, the archive while it is written)."""
    file = to / f"{partition}.copy.gz"
    paths = (file, to / f"{partition}.manifest.json")
    return (*paths, file.with_name(file.name + ".part")) if partial else paths


def _recorded(entry: MonthArchive) -> bool:
    """Whether the month's archive record is in the database (its transaction committed); True
    when the database cannot say, so that no file of a month that may be gone is deleted."""
    try:
        return ArchivedMonth.objects.filter(table=entry.table, month=str(entry.month)).exists()
    except DatabaseError:
        return True


def _rows(cursor, table: str, month: Month) -> int:
    cursor.execute(f'SELECT count(*) FROM "{partition_name(table, month)}"')
    return cursor.fetchone()[0]


def _refuse_in_review(table: str, month: Month) -> None:
    """HistoryRefused when `month` of `table` holds rows of a phase in review (its log rows are
    the item's timeline and the checker's proof that it entered review; its attempts are the
    failure history the reviewer reads)."""
    model, column = _MODELS[table]
    start, end = (
        datetime.fromisoformat(m.start).replace(tzinfo=UTC) for m in (month, month.next())
    )
    phases = list(
        model.objects.filter(
            **{f"{column}__gte": start, f"{column}__lt": end},
            phase__status=PhaseStatus.REVIEW_REQUIRED,
        )
        .order_by("phase_id")
        .values_list("phase_id", flat=True)
        .distinct()
    )
    if phases:
        shown = ", ".join(str(p) for p in phases[:_SHOWN_PHASES])
        raise HistoryRefused(
            errors.HISTORY_IN_REVIEW.format(
                month=month,
                table=table,
                count=len(phases),
                phases=shown + (", ..." if len(phases) > _SHOWN_PHASES else ""),
            ),
            refusal="in_review",
        )


class _HashingWriter:
    """A binary file that also hashes and counts what is written to it."""

    def __init__(self, raw):
        self.raw, self.sha256 = raw, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return self.raw.write(data)

    def flush(self):
        self.raw.flush()


def _archive_month(entry: MonthArchive, *, to: Path, now: datetime, created: list[Path]) -> None:
    """One month of one table: lock, check again, write, drop, remember (one transaction; on a
    failure the partition stays and the caller removes the files this run made, listed in
    `created` as they are made). Files are made exclusively: one already there is refused."""
    table, month, partition = entry.table, entry.month, entry.partition
    file, manifest_path, partial = _paths(to, partition, partial=True)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        # No row may be written to the month while it is copied (old months get none anyway).
        _waiting_briefly(
            lambda: cursor.execute(f'LOCK TABLE "{partition}" IN SHARE MODE'),
            busy=errors.ARCHIVE_BUSY,
            table=table,
            month=month,
        )
        _refuse_in_review(table, month)
        rows = 0
        with _exclusively(partial, "xb", created) as raw:
            hashing = _HashingWriter(raw)
            with gzip.GzipFile(fileobj=hashing, mode="wb", mtime=0) as gz:

                def write(data: bytes) -> None:
                    nonlocal rows
                    rows += data.count(b"\n")
                    gz.write(data)

                copy_month_out(cursor, table, month, write)
            raw.flush()
            os.fsync(raw.fileno())
        cursor.execute(f'SELECT min(id), max(id) FROM "{partition}"')
        first_row, last_row = cursor.fetchone()
        heads = _chain_heads(cursor, partition) if table == LOG else []
        manifest = {
            "format": MANIFEST_FORMAT,
            "table": table,
            "month": str(month),
            "partition": partition,
            "file": file.name,
            "sha256": hashing.sha256.hexdigest(),
            "rows": rows,
            "first_row": first_row,
            "last_row": last_row,
            "columns": columns_of(cursor, table),
            "archived_at": now.isoformat(),
        }
        if table == LOG:
            manifest["rows_up_to"] = _rows_up_to_checkpoints(cursor, partition, first_row, last_row)
            manifest["chains"] = [
                {"kind": kind, "chain": chain, "row": row, "hash": digest}
                for kind, chain, row, digest in heads
            ]
        with _exclusively(manifest_path, "x", created) as out:
            json.dump(manifest, out, indent=1)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        if file.exists():  # made by someone else since the run began
            raise HistoryRefused(
                errors.HISTORY_FILE_EXISTS.format(path=file), refusal="file_exists"
            )
        os.replace(partial, file)
        created[created.index(partial)] = file
        archive = ArchivedMonth.objects.create(
            table=table,
            month=str(month),
            file=file.name,
            sha256=manifest["sha256"],
            rows=rows,
            first_row=first_row,
            last_row=last_row,
            archived_at=now,
            manifest={k: v for k, v in manifest.items() if k != "chains"},
        )
        ArchivedChainHead.objects.bulk_create(
            [
                ArchivedChainHead(archive=archive, kind=kind, chain=chain, row=row, hash=digest)
                for kind, chain, row, digest in heads
            ],
            batch_size=5000,
        )
        # Last: the table's lock is held from here to the commit.
        _waiting_briefly(
            lambda: drop_month(cursor, table, month),
            busy=errors.ARCHIVE_BUSY,
            table=table,
            month=month,
        )
    entry.rows, entry.file, entry.manifest = rows, file, manifest_path
    entry.sha256, entry.chains = manifest["sha256"], len(heads)


def _waiting_briefly(statements: Callable[[], None], *, busy: str, table: str, month: Month):
    """Run `statements`, which take a lock on `table`, in a savepoint: each try waits at most
    LOCK_TIMEOUT for the lock, then leaves the lock queue (the savepoint undone) for LOCK_PAUSE
    seconds; after LOCK_TRIES tries HistoryRefused (busy: the caller's transaction is undone
    with it). Other database errors go up as they are."""
    for attempt in range(1, LOCK_TRIES + 1):
        try:
            with transaction.atomic():
                statements()
            return
        except OperationalError as error:
            if not is_lock_not_available(error):
                raise
        if attempt < LOCK_TRIES:
            time.sleep(LOCK_PAUSE)
    raise HistoryRefused(
        busy.format(
            table=table,
            month=month,
            partition=partition_name(table, month),
            tries=LOCK_TRIES,
            timeout=LOCK_TIMEOUT,
        ),
        refusal="busy",
    )


@contextmanager
def _exclusively(path: Path, mode: str, created: list[Path]):
    """`open(path, mode)` with an "x" mode, `path` added to `created` once this run made it;
    HistoryRefused when it is already there (whoever made it, it is not this run's to touch)."""
    try:
        handle = open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"}))  # noqa: SIM115
    except FileExistsError:
        raise HistoryRefused(
            errors.HISTORY_FILE_EXISTS.format(path=path), refusal="file_exists"
        ) from None
    created.append(path)
    with handle:
        yield handle


def _chain_heads(cursor, partition: str) -> list[tuple[str, int, int, str]]:
    """The last row of every review log chain in `partition`: (kind, chain, row, hash), in the
    checkpoints' leaf order (accounts, then phases)."""
    cursor.execute(
        f"SELECT 'account', account_id, id, hash FROM (SELECT DISTINCT ON (account_id) "
        f'account_id, id, hash FROM "{partition}" WHERE phase_id IS NULL '
        f"ORDER BY account_id, id DESC) a "
        f"UNION ALL SELECT 'phase', phase_id, id, hash FROM (SELECT DISTINCT ON (phase_id) "
        f'phase_id, id, hash FROM "{partition}" WHERE phase_id IS NOT NULL '
        f"ORDER BY phase_id, id DESC) p ORDER BY 1, 2"
    )
    return [tuple(row) for row in cursor.fetchall()]


def _rows_up_to_checkpoints(cursor, partition, first_row, last_row) -> dict[str, int]:
    """For each checkpoint whose last row falls inside the month's ids, how many of the month's
    rows it counted (so the checker can count them again once they are gone)."""
    if first_row is None:
        return {}
    counts = {}
    for up_to in ReviewLogCheckpoint.objects.filter(
        last_row__gte=first_row, last_row__lt=last_row
    ).values_list("last_row", flat=True):
        cursor.execute(f'SELECT count(*) FROM "{partition}" WHERE id <= %s', [up_to])
        counts[str(up_to)] = cursor.fetchone()[0]
    return counts


# --- Restoring -----------------------------------------------------------------------------------


def manifest_for(path: Path) -> tuple[Path, dict]:
    """The manifest for `path` (the manifest itself, or the archive beside it) and its content;
    HistoryRefused when there is none or it is not one."""
    if path.name.endswith(".copy.gz"):
        manifest_path = path.with_name(path.name[: -len(".copy.gz")] + ".manifest.json")
    else:
        manifest_path = path
    if not manifest_path.is_file():
        raise HistoryRefused(
            errors.RESTORE_NO_MANIFEST.format(path=path, manifest=manifest_path.name),
            refusal="no_manifest",
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}, expected {MANIFEST_FORMAT}")
        if manifest["table"] not in HISTORY_TABLES:
            raise ValueError(f"table {manifest['table']!r} is not a history table")
        Month.parse(manifest["month"])
        for key in ("file", "sha256", "rows", "columns"):
            manifest[key]  # noqa: B018 - present, or KeyError
        columns = manifest["columns"]
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ValueError(f"columns {columns!r} is not a list of column names")
        name = manifest["file"]
        if (
            not isinstance(name, str)
            or name in {"", ".", ".."}
            or Path(name).name != name
            or "\\" in name
        ):
            raise ValueError(f"file {name!r} is not a bare file name (the archive sits beside it)")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise HistoryRefused(
            errors.RESTORE_BAD_MANIFEST.format(path=manifest_path, why=error),
            refusal="bad_manifest",
        ) from None
    return manifest_path, manifest


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def history_restore(*, path: Path, force: bool = False) -> Restored:
    """Load an archived month back: check the file's sha256 and row count against the
    database's record of the archive (ArchivedMonth; with `force`, when the database lost it,
    against the manifest, with a warning), check its columns against the table's, load its rows
    into the month's partition and attach it, and forget the archive (the checker then walks
    its chains from their first row again). One transaction: a refusal leaves the database as
    it was."""
    if connection.vendor != "postgresql":
        raise HistoryRefused(errors.HISTORY_NEEDS_POSTGRES, refusal="needs_postgres")
    started = time.monotonic()
    manifest_path, manifest = manifest_for(path)
    table, month = manifest["table"], Month.parse(manifest["month"])
    file = manifest_path.with_name(manifest["file"])
    if not file.is_file():
        raise HistoryRefused(
            errors.RESTORE_UNREADABLE.format(path=file, why="no such file"), refusal="unreadable"
        )
    with _one_run_at_a_time():
        return _restore(
            file, table=table, month=month, manifest=manifest, force=force, started=started
        )


def _restore(
    file: Path, *, table: str, month: Month, manifest: dict, force: bool, started: float
) -> Restored:
    warnings = []
    record = ArchivedMonth.objects.filter(table=table, month=str(month)).first()
    if record is not None:
        # The database's record, not the file beside the archive, says what was archived.
        against, expected = (
            errors.RESTORE_AGAINST_RECORD,
            record.manifest
            | {
                "sha256": record.sha256,
                "rows": record.rows,
            },
        )
    elif force:
        against, expected = errors.RESTORE_AGAINST_MANIFEST, manifest
        warnings.append(errors.RESTORE_FORCED.format(table=table, month=month))
    else:
        raise HistoryRefused(
            errors.RESTORE_NOT_ARCHIVED.format(table=table, month=month), refusal="not_archived"
        )
    found = _sha256_of(file)
    if found != expected["sha256"]:
        raise HistoryRefused(
            errors.RESTORE_HASH_MISMATCH.format(
                path=file,
                against=against,
                found=found[:12],
                expected=str(expected["sha256"])[:12],
            ),
            refusal="hash_mismatch",
        )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        if not owns(cursor, table):
            raise HistoryRefused(errors.HISTORY_NOT_OWNER.format(table=table), refusal="not_owner")
        if month in months_of(cursor, table):
            raise HistoryRefused(
                errors.RESTORE_MONTH_PRESENT.format(table=table, month=month),
                refusal="month_present",
            )
        archived, current = list(expected["columns"]), columns_of(cursor, table)
        if set(archived) != set(current):
            raise HistoryRefused(
                errors.RESTORE_COLUMNS_CHANGED.format(
                    path=file,
                    table=table,
                    gone=", ".join(c for c in archived if c not in current) or "none",
                    new=", ".join(c for c in current if c not in archived) or "none",
                ),
                refusal="columns_changed",
            )
        try:
            with gzip.open(file, "rb") as gz, transaction.atomic():
                with connection.wrap_database_errors:
                    loaded = load_month(cursor, table, month, archived, gz.read)
        except (OSError, EOFError, DatabaseError) as error:
            raise HistoryRefused(
                errors.RESTORE_UNREADABLE.format(path=file, why=error), refusal="unreadable"
            ) from None
        if loaded != expected["rows"]:
            raise HistoryRefused(
                errors.RESTORE_ROWS_MISMATCH.format(
                    path=file, against=against, found=loaded, expected=expected["rows"]
                ),
                refusal="rows_mismatch",
            )
        try:
            _waiting_briefly(
                lambda: attach_month(cursor, table, month),
                busy=errors.RESTORE_BUSY,
                table=table,
                month=month,
            )
        except DatabaseError as error:  # rows that break a foreign key or the month's bounds
            raise HistoryRefused(
                errors.RESTORE_UNREADABLE.format(path=file, why=error), refusal="unreadable"
            ) from None
        ArchivedMonth.objects.filter(table=table, month=str(month)).delete()
    return Restored(
        table=table,
        month=month,
        rows=loaded,
        file=file,
        chains=len(manifest.get("chains", [])),
        seconds=time.monotonic() - started,
        warnings=tuple(warnings),
    )
