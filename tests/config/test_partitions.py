"""The history tables partitioned by month on PostgreSQL (config/partitions.py): the migrations
convert them with every row, name and guard kept; the scheduler makes the coming months ahead;
a row of a month with no partition lands in the DEFAULT one, which the integrity checker
reports and `history_partitions --adopt` empties; the append-only log stays append-only on
every partition; and reads bounded in time skip the months outside their bounds."""

import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from config.partitions import (
    HISTORY_TABLES,
    Month,
    default_rows,
    ensure_partitions,
    is_partitioned,
    months_of,
    partition_by_month,
    partition_name,
    unpartition,
)
from reviews.models import ReviewLog
from tests.conftest import requires_postgres
from tests.factories import WarmupPhaseFactory
from warmup.models import PhaseAttempt
from warmup.selectors.integrity import check_integrity
from warmup.selectors.queue import review_item_with_history
from warmup.services.tick import tick

pytestmark = [requires_postgres, pytest.mark.django_db]
LOG, ATTEMPTS = "reviews_reviewlog", "warmup_phaseattempt"


def names(sql: str, params=()) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def indexes_and_constraints(table: str) -> set[str]:
    return names(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass",
        [table],
    ) | names("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass", [table])


def explain(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_migrated_history_tables_are_partitioned_from_this_month_on():
    this_month = Month.of(timezone.now())
    with connection.cursor() as cursor:
        for table in HISTORY_TABLES:
            assert is_partitioned(cursor, table)
            assert {this_month.next(n) for n in range(4)} <= months_of(cursor, table)
    assert default_rows(connection) == {LOG: 0, ATTEMPTS: 0}


def test_converting_keeps_every_row_name_and_the_chains(content_pool, bot):
    items = [
        WarmupPhaseFactory(in_review=True, bot=bot, category="proxy_error", retryable=False)
        for _ in range(3)
    ]
    rows = {table: sorted(model.objects.values_list()) for table, model in MODELS.items()}
    named = {table: indexes_and_constraints(table) for table in HISTORY_TABLES}

    for table in HISTORY_TABLES:  # plain again, then partitioned again: both ways keep all
        unpartition(connection, table)
        with connection.cursor() as cursor:
            assert not is_partitioned(cursor, table)
        partition_by_month(connection, table, now=timezone.now())

    for table, model in MODELS.items():
        assert sorted(model.objects.values_list()) == rows[table]
        assert indexes_and_constraints(table) == named[table]
    assert check_integrity() == []
    # the ids go on from the same sequence
    newer = WarmupPhaseFactory(in_review=True, bot=bot, category="proxy_error", retryable=False)
    assert min(newer.attempts.values_list("pk", flat=True)) > max(
        PhaseAttempt.objects.filter(phase__in=items).values_list("pk", flat=True)
    )


MODELS = {ATTEMPTS: PhaseAttempt, LOG: ReviewLog}


def test_the_review_log_is_append_only_on_every_partition(content_pool, bot):
    WarmupPhaseFactory(in_review=True, bot=bot, category="proxy_error", retryable=False)
    partition = partition_name(LOG, Month.of(timezone.now()))
    for statement, params in ((f'UPDATE "{partition}" SET note = %s', ["x"]),
                              (f'DELETE FROM "{partition}"', [])):  # fmt: skip
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
    # and on one the scheduler makes later
    ensure_partitions(connection, now=timezone.now() + timedelta(days=200))
    later = partition_name(LOG, Month.of(timezone.now() + timedelta(days=200)))
    assert names(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgconstraint = 0",
        [later],
    ) == {"reviews_reviewlog_no_update_delete"}


def test_the_scheduler_makes_the_coming_months_and_leaves_a_month_in_the_default_alone(
    content_pool, bot
):
    WarmupPhaseFactory(in_review=True, bot=bot, category="proxy_error", retryable=False)
    far = datetime(2031, 5, 10, 12, 0, tzinfo=UTC)
    stray = PhaseAttempt.objects.get(
        pk=copy_of_an_attempt(claimed_at=datetime(2031, 7, 1, tzinfo=UTC))
    )
    assert default_rows(connection)[ATTEMPTS] == 1

    tick(now=far)

    with connection.cursor() as cursor:
        months = months_of(cursor, ATTEMPTS)
    assert {Month(2031, 5), Month(2031, 6), Month(2031, 8)} <= months
    assert Month(2031, 7) not in months  # its row waits in the DEFAULT partition for --adopt
    assert PhaseAttempt.objects.filter(pk=stray.pk).exists()


def copy_of_an_attempt(*, claimed_at) -> int:
    """A finished attempt like the first one, claimed at `claimed_at` (a month that may have no
    partition); its id."""
    attempt = PhaseAttempt.objects.filter(finished_at__isnull=False).first()
    attempt.pk, attempt.number, attempt.lease_token = None, attempt.number + 100, uuid.uuid4()
    attempt.claimed_at = attempt.finished_at = claimed_at
    attempt.save()
    return attempt.pk


def test_rows_of_a_month_without_partition_are_reported_and_adopted(content_pool, bot):
    WarmupPhaseFactory(in_review=True, bot=bot, category="proxy_error", retryable=False)
    stray = datetime(2019, 7, 4, 12, 0, tzinfo=UTC)
    copy_of_an_attempt(claimed_at=stray)  # from before the partitions began
    assert default_rows(connection)[ATTEMPTS] == 1
    reported = [str(v) for v in check_integrity(only=["partition"])]
    assert reported == [
        "partition: 1 row(s) of warmup_phaseattempt sit in its DEFAULT partition: their months "
        "have no partition of their own (manage.py history_partitions --adopt makes them)."
    ]

    out = StringIO()
    call_command("history_partitions", "--adopt", stdout=out)

    assert "made warmup_phaseattempt_p2019_07" in out.getvalue()
    assert default_rows(connection)[ATTEMPTS] == 0
    assert check_integrity(only=["partition"]) == []
    assert PhaseAttempt.objects.filter(claimed_at=stray).count() == 1


def test_reads_bounded_in_time_skip_the_months_before_them(content_pool, bot):
    old = Month.of(timezone.now()).next(-6)
    with connection.cursor() as cursor:
        for table in HISTORY_TABLES:
            cursor.execute(
                f'CREATE TABLE "{partition_name(table, old)}" PARTITION OF "{table}" '
                f"FOR VALUES FROM ('{old.start}') TO ('{old.next().start}')"
            )
    item = WarmupPhaseFactory(in_review=True, bot=bot, category="proxy_error", retryable=False)
    since = timezone.now() - timedelta(days=1)

    window = explain(ReviewLog.objects.filter(created_at__gte=since))
    timeline = explain(ReviewLog.objects.filter(phase=item, created_at__gte=item.created_at))
    attempts = explain(PhaseAttempt.objects.filter(phase=item, claimed_at__gte=item.created_at))

    for plan, table in ((window, LOG), (timeline, LOG), (attempts, ATTEMPTS)):
        assert partition_name(table, Month.of(timezone.now())) in plan, plan
        assert partition_name(table, old) not in plan, plan
    shown = review_item_with_history(phase_id=item.pk)
    assert len(shown.review_logs.all()) == ReviewLog.objects.filter(phase=item).count() > 0
    assert len(shown.attempts.all()) == PhaseAttempt.objects.filter(phase=item).count() > 0


def test_the_app_role_reaches_partitions_only_through_their_tables(content_pool, bot, monkeypatch):
    name = f"warmup_app_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("WARMUP_TEST_APP_PASSWORD", "app-secret")
    call_command("create_app_role", name, "--password-env", "WARMUP_TEST_APP_PASSWORD",
                 stdout=StringIO())  # fmt: skip
    try:
        partition = partition_name(LOG, Month.of(timezone.now()))
        granted = names(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE table_name = %s AND grantee = %s",
            [partition, name],
        )
        on_log = names(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE table_name = %s AND grantee = %s",
            [LOG, name],
        )
        assert granted == set()
        assert on_log == {"SELECT", "INSERT"}
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{name}"')
            cursor.execute(f'DROP ROLE "{name}"')
