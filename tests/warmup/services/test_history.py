"""Archiving whole months of history (warmup.services.history, `manage.py archive_history` and
`restore_history`) on PostgreSQL: a month of attempts and review log goes to a gzip file and a
manifest and its partitions are dropped, the checker stays clean (the chains go on from the
manifest's last hashes, signed checkpoints still verify), tampering still shows; a month with
an item still in review is refused; a dry run writes nothing; a restored month comes back
whole and the checker walks its chains again; a damaged file is refused."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from config.partitions import (
    HISTORY_TABLES,
    Month,
    drop_month,
    ensure_partitions,
    months_of,
    partition_name,
)
from reviews.models import ArchivedChainHead, ArchivedMonth, ReviewLog
from tests.builders import fail, first_phase
from tests.conftest import requires_postgres
from tests.connections import raw_connection
from tests.factories import FIRST_STEP, AccountFactory, WarmupPhaseFactory
from warmup.domain import errors
from warmup.models import PhaseAttempt
from warmup.selectors.integrity import check_integrity
from warmup.services import history as service
from warmup.services.bot_work import phase_claim, phase_complete
from warmup.services.checkpoints import checkpoint_write
from warmup.services.resolutions import reviews_resolve
from warmup.services.tick import tick

LOG, ATTEMPTS = "reviews_reviewlog", "warmup_phaseattempt"
KEY = "checkpoint-key-for-tests"
WHY = {"reason_code": "replaced_proxy", "note": "New proxy for the pool."}
TODAY = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
OLD = Month(2025, 6)  # outside the 13 months kept on TODAY (kept: 2025-12 on)


def months() -> dict[str, set[Month]]:
    with connection.cursor() as cursor:
        return {table: months_of(cursor, table) for table in HISTORY_TABLES}


def history() -> dict[str, list]:
    return {
        LOG: sorted(ReviewLog.objects.values_list()),
        ATTEMPTS: sorted(PhaseAttempt.objects.values_list()),
    }


@pytest.fixture
def old_month(db, clock, content_pool, bot, settings):
    """On OLD: a partition of its own in both tables, a phase that went to review (resolved
    later, on TODAY: its chain goes on past the month) and a completed one; on TODAY a phase
    in review. A signed checkpoint has seen it all."""
    settings.REVIEW_LOG_CHECKPOINT_KEY = KEY
    clock.move_to(datetime(2025, 6, 10, 9, 0, tzinfo=UTC))
    ensure_partitions(connection, now=datetime(2025, 6, 10, tzinfo=UTC), ahead=0)
    went_to_review = WarmupPhaseFactory(
        in_review=True, bot=bot, category="proxy_error", retryable=False
    )
    done = WarmupPhaseFactory(completed=True, bot=bot)
    clock.move_to(TODAY)
    WarmupPhaseFactory(in_review=True, bot=bot, category="proxy_error", retryable=False)
    assert checkpoint_write(now=TODAY) is not None
    return {"went_to_review": went_to_review, "done": done}


def archive(tmp_path, *args) -> str:
    out = StringIO()
    call_command("archive_history", "--before", "2025-12", "--to", str(tmp_path), *args,
                 stdout=out)  # fmt: skip
    return out.getvalue()


@contextmanager
def another_run():
    """Another archive or restore under way: its session holds the run's advisory lock."""
    with raw_connection(autocommit=True) as other:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", [service.RUN_LOCK]).fetchone()[0]
        yield


def resolve(phase, reviewer_actor):
    result = reviews_resolve(phase_ids=[phase.pk], method="skip", actor=reviewer_actor, **WHY)
    assert result.changed == [phase.pk], result.unchanged


@requires_postgres
def test_an_archived_month_leaves_files_a_manifest_and_a_clean_checker(
    old_month, tmp_path, reviewer_actor, bot
):
    # given the old item resolved today: its chain runs from June into December
    resolve(old_month["went_to_review"], reviewer_actor)
    rows_before = history()
    june = {
        LOG: ReviewLog.objects.filter(created_at__lt=datetime(2025, 7, 1, tzinfo=UTC)).count(),
        ATTEMPTS: PhaseAttempt.objects.filter(
            claimed_at__lt=datetime(2025, 7, 1, tzinfo=UTC)
        ).count(),
    }
    assert june[LOG] >= 1 and june[ATTEMPTS] == 2

    out = archive(tmp_path)

    assert "archived reviews_reviewlog_p2025_06" in out
    assert all(OLD not in found for found in months().values())
    for table in HISTORY_TABLES:
        file = tmp_path / f"{partition_name(table, OLD)}.copy.gz"
        manifest = json.loads(
            (tmp_path / f"{partition_name(table, OLD)}.manifest.json").read_text()
        )
        assert manifest["rows"] == june[table]
        assert gzip.decompress(file.read_bytes()).count(b"\n") == june[table]
        assert ArchivedMonth.objects.get(table=table, month="2025-06").sha256 == manifest["sha256"]
    log_manifest = json.loads((tmp_path / "reviews_reviewlog_p2025_06.manifest.json").read_text())
    phase = old_month["went_to_review"]
    june_rows = [row for row in rows_before[LOG] if row[1] == phase.pk and row[-4] < TODAY]
    assert {"kind": "phase", "chain": phase.pk} | {
        "row": max(june_rows)[0],
        "hash": max(june_rows)[-1],
    } in log_manifest["chains"]
    assert ReviewLog.objects.filter(created_at__lt=datetime(2025, 7, 1, tzinfo=UTC)).count() == 0
    # the checker starts the chain at the manifest's last hash; the checkpoint still verifies
    assert check_integrity() == []
    assert checkpoint_write(now=TODAY + timedelta(minutes=10)) is not None
    assert check_integrity() == []

    # tampering still shows: the archived last hash no longer matches the chain's next row
    ArchivedChainHead.objects.filter(kind="phase", chain=phase.pk).update(hash="0" * 64)
    found = [str(v) for v in check_integrity(only=["chain"])]
    assert len(found) == 1 and f"phase {phase.pk}" in found[0], found


@requires_postgres
def test_a_phase_whose_retried_attempts_were_archived_keeps_its_count_unjudged(
    db, clock, content_pool, bot, tmp_path
):
    # given, in June, a phase that failed once (retried: retry_count 1) and then completed
    clock.move_to(datetime(2025, 6, 10, 9, 0, tzinfo=UTC))
    ensure_partitions(connection, now=datetime(2025, 6, 10, tzinfo=UTC), ahead=0)
    account = AccountFactory()
    tick()
    phase = phase_claim(bot=bot, phase_types=[FIRST_STEP])
    fail(phase, bot, "network_error")
    clock.shift(timedelta(hours=2))
    tick()
    again = phase_claim(bot=bot, phase_types=[FIRST_STEP])
    phase_complete(phase_id=again.pk, bot=bot, lease_token=again.lease_token)
    assert first_phase(account).retry_count == 1
    clock.move_to(TODAY)

    archive(tmp_path)

    # its retried attempt is gone with June; the checker cannot judge its count, and says nothing
    assert not PhaseAttempt.objects.filter(phase=phase).exists()
    assert check_integrity(only=["retry_count"]) == []
    # a phase made after the archived months is still judged
    # (as if only January had been archived)
    kept = ArchivedMonth.objects.filter(table=ATTEMPTS).order_by("month").first()
    ArchivedMonth.objects.filter(table=ATTEMPTS).exclude(pk=kept.pk).delete()
    ArchivedMonth.objects.filter(pk=kept.pk).update(month="2025-01")
    assert [v.ids for v in check_integrity(only=["retry_count"])] == [{"phase": phase.pk}]


@requires_postgres
def test_restoring_brings_the_month_back_and_the_checker_walks_it_again(
    old_month, tmp_path, reviewer_actor
):
    resolve(old_month["went_to_review"], reviewer_actor)
    rows_before = history()
    archive(tmp_path)
    assert history() != rows_before

    out = StringIO()
    call_command("restore_history", str(tmp_path / "reviews_reviewlog_p2025_06.manifest.json"),
                 stdout=out)  # fmt: skip
    call_command("restore_history", str(tmp_path / "warmup_phaseattempt_p2025_06.copy.gz"),
                 stdout=out)  # fmt: skip

    assert "restored reviews_reviewlog 2025-06" in out.getvalue()
    assert history() == rows_before
    assert all(OLD in found for found in months().values())
    # June is the tables' again; the empty months after it (the scheduler made them) stay archived
    assert not ArchivedMonth.objects.filter(month="2025-06").exists()
    assert not ArchivedChainHead.objects.exists()
    assert check_integrity() == []
    # the restored month is the log's again: append-only like every partition
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgconstraint = 0",
            [partition_name(LOG, OLD)],
        )
        assert [row[0] for row in cursor.fetchall()] == ["reviews_reviewlog_no_update_delete"]


@requires_postgres
def test_a_month_with_an_item_still_in_review_is_refused_and_nothing_written(old_month, tmp_path):
    with pytest.raises(CommandError) as refused:
        archive(tmp_path)

    phase = old_month["went_to_review"]
    assert refused.value.returncode == 1
    assert str(refused.value) == errors.HISTORY_IN_REVIEW.format(
        month=OLD, table=ATTEMPTS, count=1, phases=phase.pk
    )
    assert list(tmp_path.iterdir()) == []
    assert all(OLD in found for found in months().values())
    assert not ArchivedMonth.objects.exists()


@requires_postgres
def test_rows_of_old_months_in_the_default_partition_are_refused(old_month, tmp_path):
    # given an attempt of a month with no partition of its own (it sits in the DEFAULT one)
    stray = PhaseAttempt.objects.filter(phase=old_month["done"]).get()
    stray.pk, stray.number, stray.lease_token = None, stray.number + 100, uuid.uuid4()
    stray.claimed_at = stray.finished_at = datetime(2019, 7, 4, tzinfo=UTC)
    stray.save()

    with pytest.raises(CommandError) as refused:
        archive(tmp_path, "--dry-run")

    assert refused.value.returncode == 1
    assert str(refused.value) == errors.HISTORY_IN_DEFAULT.format(
        table=ATTEMPTS, before=Month(2025, 12)
    )


@requires_postgres
def test_a_dry_run_says_what_would_go_and_writes_nothing(old_month, tmp_path, reviewer_actor):
    resolve(old_month["went_to_review"], reviewer_actor)
    rows_before = history()

    out = archive(tmp_path, "--dry-run")

    assert "would archive warmup_phaseattempt_p2025_06: 2 row(s)" in out
    assert list(tmp_path.iterdir()) == []
    assert history() == rows_before
    assert all(OLD in found for found in months().values())


@requires_postgres
def test_months_inside_the_retention_need_force_and_the_current_month_never_goes(
    old_month, tmp_path
):
    with pytest.raises(CommandError) as refused:
        call_command("archive_history", "--before", "2026-01", "--to", str(tmp_path))
    assert refused.value.returncode == 2
    assert "HISTORY_RETENTION_MONTHS=13: months from 2025-12 on are kept" in str(refused.value)
    with pytest.raises(CommandError) as refused:
        call_command("archive_history", "--before", "2027-01", "--force", "--to", str(tmp_path))
    assert refused.value.returncode == 2
    assert list(tmp_path.iterdir()) == []


@requires_postgres
def test_a_damaged_archive_is_refused_on_restore(old_month, tmp_path, reviewer_actor):
    resolve(old_month["went_to_review"], reviewer_actor)
    archive(tmp_path)
    file = tmp_path / "reviews_reviewlog_p2025_06.copy.gz"
    damaged = bytearray(file.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    file.write_bytes(bytes(damaged))

    with pytest.raises(CommandError) as refused:
        call_command("restore_history", str(file))

    assert refused.value.returncode == 1
    assert str(refused.value).startswith(
        f"{file} does not match {errors.RESTORE_AGAINST_RECORD} (sha256 "
    )
    assert OLD not in months()[LOG]
    assert ArchivedMonth.objects.filter(table=LOG).exists()
    assert check_integrity() == []


@requires_postgres
def test_a_file_whose_rows_disagree_with_the_archive_record_is_refused(
    old_month, tmp_path, reviewer_actor
):
    resolve(old_month["went_to_review"], reviewer_actor)
    archive(tmp_path)
    record = ArchivedMonth.objects.get(table=ATTEMPTS, month=OLD)
    ArchivedMonth.objects.filter(pk=record.pk).update(rows=record.rows + 1)

    with pytest.raises(CommandError) as refused:
        call_command("restore_history", str(tmp_path / "warmup_phaseattempt_p2025_06.copy.gz"))

    assert str(refused.value) == errors.RESTORE_ROWS_MISMATCH.format(
        path=tmp_path / "warmup_phaseattempt_p2025_06.copy.gz",
        against=errors.RESTORE_AGAINST_RECORD,
        found=record.rows,
        expected=record.rows + 1,
    )
    assert OLD not in months()[ATTEMPTS]


@requires_postgres
def test_a_file_changed_with_its_manifest_is_refused_against_the_database_record(
    old_month, tmp_path, reviewer_actor
):
    # given the archive's last row cut and the manifest beside it rewritten to match
    resolve(old_month["went_to_review"], reviewer_actor)
    archive(tmp_path)
    file = tmp_path / "warmup_phaseattempt_p2025_06.copy.gz"
    path = tmp_path / "warmup_phaseattempt_p2025_06.manifest.json"
    rows = gzip.decompress(file.read_bytes()).splitlines(keepends=True)
    file.write_bytes(gzip.compress(b"".join(rows[:-1])))
    manifest = json.loads(path.read_text())
    recorded = manifest["sha256"]
    sha256 = hashlib.sha256(file.read_bytes()).hexdigest()
    path.write_text(json.dumps(manifest | {"sha256": sha256, "rows": len(rows) - 1}))

    with pytest.raises(CommandError) as refused:
        call_command("restore_history", str(path))

    assert refused.value.returncode == 1
    assert str(refused.value) == errors.RESTORE_HASH_MISMATCH.format(
        path=file, against=errors.RESTORE_AGAINST_RECORD, found=sha256[:12], expected=recorded[:12]
    )
    assert OLD not in months()[ATTEMPTS]
    assert ArchivedMonth.objects.filter(table=ATTEMPTS, month=OLD).exists()


@requires_postgres
def test_a_month_the_database_has_no_record_of_needs_force_and_warns(
    old_month, tmp_path, reviewer_actor
):
    # given a database that lost the archive's record (restored from an older backup)
    resolve(old_month["went_to_review"], reviewer_actor)
    rows_before = history()[ATTEMPTS]
    archive(tmp_path)
    ArchivedMonth.objects.filter(table=ATTEMPTS, month=OLD).delete()
    file = str(tmp_path / "warmup_phaseattempt_p2025_06.copy.gz")

    with pytest.raises(CommandError) as refused:
        call_command("restore_history", file)

    assert refused.value.returncode == 1
    assert str(refused.value) == errors.RESTORE_NOT_ARCHIVED.format(table=ATTEMPTS, month=OLD)
    assert OLD not in months()[ATTEMPTS]

    out, err = StringIO(), StringIO()
    call_command("restore_history", file, "--force", stdout=out, stderr=err)

    assert err.getvalue().strip() == errors.RESTORE_FORCED.format(table=ATTEMPTS, month=OLD)
    assert "restored warmup_phaseattempt 2025-06: 2 row(s)" in out.getvalue()
    assert history()[ATTEMPTS] == rows_before


@requires_postgres
def test_a_month_archived_with_other_columns_than_the_table_has_now_is_refused(
    old_month, tmp_path, reviewer_actor
):
    resolve(old_month["went_to_review"], reviewer_actor)
    archive(tmp_path)
    with connection.cursor() as cursor:  # a later release added a column
        cursor.execute("ALTER TABLE warmup_phaseattempt ADD COLUMN proxy_region text")
    file = tmp_path / "warmup_phaseattempt_p2025_06.copy.gz"

    with pytest.raises(CommandError) as refused:
        call_command("restore_history", str(file))

    assert refused.value.returncode == 1
    assert str(refused.value) == errors.RESTORE_COLUMNS_CHANGED.format(
        path=file, table=ATTEMPTS, gone="none", new="proxy_region"
    )
    assert OLD not in months()[ATTEMPTS]
    assert ArchivedMonth.objects.filter(table=ATTEMPTS, month=OLD).exists()


@requires_postgres
@pytest.mark.parametrize(
    "name", ["../warmup_phaseattempt_p2025_06.copy.gz", "/tmp/x.copy.gz", "sub/x.copy.gz", ""]
)
def test_a_manifest_whose_file_is_not_a_bare_file_name_is_refused(
    old_month, tmp_path, reviewer_actor, name
):
    resolve(old_month["went_to_review"], reviewer_actor)
    archive(tmp_path)
    path = tmp_path / "warmup_phaseattempt_p2025_06.manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"file": name}))

    with pytest.raises(CommandError) as refused:
        call_command("restore_history", str(path))

    assert refused.value.returncode == 1
    assert str(refused.value) == errors.RESTORE_BAD_MANIFEST.format(
        path=path, why=f"file {name!r} is not a bare file name (the archive sits beside it)"
    )
    assert OLD not in months()[ATTEMPTS]


@requires_postgres
def test_a_run_while_another_archive_or_restore_runs_is_refused_and_nothing_lost(
    old_month, tmp_path, reviewer_actor
):
    resolve(old_month["went_to_review"], reviewer_actor)
    rows_before = history()

    with another_run(), pytest.raises(CommandError) as refused:
        archive(tmp_path)

    assert refused.value.returncode == 1
    assert str(refused.value) == errors.HISTORY_RUNNING
    assert list(tmp_path.iterdir()) == []
    assert history() == rows_before and all(OLD in found for found in months().values())
    assert not ArchivedMonth.objects.exists()

    # the lock is the run's only: once the other run ended, this one goes, and a restore
    # refuses the same way while another run holds it
    archive(tmp_path)
    files = sorted(tmp_path.iterdir())
    with another_run(), pytest.raises(CommandError) as refused:
        call_command("restore_history", str(tmp_path / "reviews_reviewlog_p2025_06.copy.gz"))
    assert refused.value.returncode == 1
    assert str(refused.value) == errors.HISTORY_RUNNING
    assert OLD not in months()[LOG] and ArchivedMonth.objects.filter(table=LOG, month=OLD).exists()
    assert sorted(tmp_path.iterdir()) == files


@requires_postgres
def test_a_failure_after_a_month_committed_keeps_its_files(
    old_month, tmp_path, reviewer_actor, monkeypatch
):
    # given a run interrupted (Ctrl-C, a dropped connection) right after a month's commit
    resolve(old_month["went_to_review"], reviewer_actor)
    archive_month = service._archive_month

    def then_interrupted(entry, **kwargs):
        archive_month(entry, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(service, "_archive_month", then_interrupted)

    with pytest.raises(KeyboardInterrupt):
        archive(tmp_path)

    # the month is gone from the database: its files are its archive, and stay
    first = partition_name(ATTEMPTS, OLD)
    assert OLD not in months()[ATTEMPTS]
    record = ArchivedMonth.objects.get(table=ATTEMPTS, month=OLD)
    file = tmp_path / f"{first}.copy.gz"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{first}.copy.gz",
        f"{first}.manifest.json",
    ]
    assert gzip.decompress(file.read_bytes()).count(b"\n") == record.rows == 2


@requires_postgres
def test_a_failure_before_the_commit_removes_only_the_files_the_run_made(
    old_month, tmp_path, reviewer_actor, monkeypatch
):
    resolve(old_month["went_to_review"], reviewer_actor)

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(service, "drop_month", broken)
    with pytest.raises(OSError, match="disk full"):
        archive(tmp_path)

    assert list(tmp_path.iterdir()) == []
    assert all(OLD in found for found in months().values())
    assert not ArchivedMonth.objects.exists()

    # a file being written by someone else (a .part) is refused before anything, and kept
    theirs = tmp_path / f"{partition_name(ATTEMPTS, OLD)}.copy.gz.part"
    theirs.write_bytes(b"someone else's")
    monkeypatch.undo()
    with pytest.raises(CommandError) as refused:
        archive(tmp_path)
    assert str(refused.value) == errors.HISTORY_FILE_EXISTS.format(path=theirs)
    assert list(tmp_path.iterdir()) == [theirs] and theirs.read_bytes() == b"someone else's"
    assert all(OLD in found for found in months().values())


@pytest.fixture
def committed(default_plan, monkeypatch):
    """For tests with other sessions: the test's rows are committed (they must see them), and
    the months before the retention that the test leaves in the database are dropped after it
    (the flush empties the tables, not their partitions). Lock waits are tried 3 times, 0.2 s
    apart, to keep the test short."""
    monkeypatch.setattr(service, "LOCK_TRIES", 3)
    monkeypatch.setattr(service, "LOCK_PAUSE", 0.2)
    yield
    with connection.cursor() as cursor:
        for table in HISTORY_TABLES:
            for month in months_of(cursor, table):
                if (month.year, month.month) < (2025, 12):
                    drop_month(cursor, table, month)


class Reader:
    """A long reader in a session of its own: a transaction that has read `table` and stays
    open (it holds the table's ACCESS SHARE lock, as a report or a pg_dump does). Meanwhile a
    watcher waits until some session queues for a lock behind it, then times a plain SELECT
    of `table` from a third session: how long a bot's read waited behind the queued lock."""

    def __init__(self, table: str):
        self.table, self.waited, self.seen = table, None, threading.Event()
        self.stop = threading.Event()

    def __enter__(self):
        self.reader = raw_connection(autocommit=True)
        self.reader.autocommit = False
        self.reader.execute(f"SELECT count(*) FROM {self.table}").fetchone()
        self.watcher = threading.Thread(target=self.watch)
        self.watcher.start()
        return self

    def watch(self):
        with raw_connection(autocommit=True) as watching, raw_connection(autocommit=True) as bot:
            while not self.stop.is_set():
                queued = watching.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                if queued.fetchone()[0]:
                    self.seen.set()
                    started = time.monotonic()
                    bot.execute(f"SELECT count(*) FROM {self.table}").fetchone()
                    self.waited = time.monotonic() - started
                    return
                time.sleep(0.01)

    def __exit__(self, *exc):
        self.stop.set()
        self.watcher.join(60)
        self.reader.rollback()
        self.reader.close()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_long_reader_makes_the_archive_give_up_without_holding_other_sessions_up(
    committed, old_month, tmp_path, reviewer_actor
):
    resolve(old_month["went_to_review"], reviewer_actor)
    rows_before = history()
    # the first month the run takes: OLD, or an older, empty one another test left
    first = min(
        (
            month
            for month in months()[ATTEMPTS]
            if (month.year, month.month) <= (OLD.year, OLD.month)
        ),
        key=lambda month: (month.year, month.month),
    )

    with Reader(ATTEMPTS) as reader, pytest.raises(CommandError) as refused:
        archive(tmp_path)

    # the detach waited in the lock queue, a bot's read queued behind it only for one try's
    # lock_timeout (0.5 s; generous bound for a busy machine: before, it waited 10 s), and the
    # command gave up after its tries with the month whole and no file of it
    assert reader.seen.is_set() and reader.waited is not None
    assert reader.waited < 5, reader.waited
    assert refused.value.returncode == 1
    assert str(refused.value) == errors.ARCHIVE_BUSY.format(
        table=ATTEMPTS, partition=partition_name(ATTEMPTS, first), tries=3, timeout="500ms"
    )
    assert all(OLD in found for found in months().values())
    assert history() == rows_before
    assert list(tmp_path.iterdir()) == []
    assert not ArchivedMonth.objects.exists()

    # once the reader is gone, running it again archives the month
    assert "archived warmup_phaseattempt_p2025_06: 2 row(s)" in archive(tmp_path)
    assert all(OLD not in found for found in months().values())


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_long_reader_makes_the_restore_give_up_without_holding_other_sessions_up(
    committed, old_month, tmp_path, reviewer_actor
):
    resolve(old_month["went_to_review"], reviewer_actor)
    archive(tmp_path)
    manifest = tmp_path / "reviews_reviewlog_p2025_06.manifest.json"

    with Reader(LOG) as reader, pytest.raises(CommandError) as refused:
        call_command("restore_history", str(manifest))

    assert reader.seen.is_set() and reader.waited is not None
    assert reader.waited < 5, reader.waited
    assert refused.value.returncode == 1
    assert str(refused.value) == errors.RESTORE_BUSY.format(
        table=LOG, month=OLD, tries=3, timeout="500ms"
    )
    assert OLD not in months()[LOG]
    assert ArchivedMonth.objects.filter(table=LOG, month=OLD).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partition_name(LOG, OLD)])
        assert cursor.fetchone()[0] is None  # the loaded table went with the refusal

    call_command("restore_history", str(manifest), stdout=StringIO())
    assert OLD in months()[LOG]
    assert check_integrity() == []


@pytest.mark.parametrize("month", ["2025-13", "2025-1", "june", ""])
def test_a_month_that_is_not_one_is_a_usage_error(db, month):
    with pytest.raises(CommandError) as refused:
        call_command("archive_history", "--before", month, "--dry-run")
    assert refused.value.returncode == 2
    assert "is not a month (YYYY-MM)" in str(refused.value)


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite's answer")
def test_sqlite_says_archiving_needs_postgres(db, tmp_path):
    for command, args in (("archive_history", ["--before", "2020-01"]),
                          ("restore_history", [str(tmp_path / "x.manifest.json")])):  # fmt: skip
        with pytest.raises(CommandError) as refused:
            call_command(command, *args)
        assert refused.value.returncode == 2
        assert str(refused.value) == errors.HISTORY_NEEDS_POSTGRES
