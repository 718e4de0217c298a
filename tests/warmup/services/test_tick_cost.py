"""What a scheduler tick costs when nothing is due: the same few statements however many items
wait in review, and (on PostgreSQL) query plans that read the partial indexes, never the whole
phases table, on a fleet built the way the benchmarks build theirs."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import requires_postgres
from tests.factories import AccountFactory, new_item_in_review
from warmup.domain.choices import ReviewAction
from warmup.models import AttemptOutcome, FailureCategory, PhaseStatus
from warmup.selectors.integrity import check_integrity
from warmup.services.bot_work import phase_claim
from warmup.services.review_hours import review_hours_count_due
from warmup.services.tick import TickReport, tick


def idle_tick_statements(clock, bot, *, items_in_review: int) -> int:
    """Statements of a tick with nothing due while `items_in_review` items sit in review at
    level 1 (past the first threshold, short of the second: the items the tick once read and
    gave a savepoint each on every tick). Built and measured in a transaction rolled back."""
    with transaction.atomic():
        for _ in range(items_in_review):
            new_item_in_review(bot)
        clock.shift(timedelta(hours=1, minutes=5))
        assert tick().escalated == items_in_review
        clock.shift(timedelta(hours=1))
        while review_hours_count_due(now=timezone.now()):  # the log's hours, all counted
            pass
        with CaptureQueriesContext(connection) as queries:
            report = tick()
        assert report == TickReport()
        transaction.set_rollback(True)
    return len(queries)


@pytest.mark.django_db
def test_a_tick_with_nothing_due_costs_the_same_statements_for_2_or_12_items_in_review(
    clock, bot, content_pool
):
    # given: items in review that are not due to rise, a few or many of them
    few = idle_tick_statements(clock, bot, items_in_review=2)
    many = idle_tick_statements(clock, bot, items_in_review=12)

    # then: the tick asks the same few questions either way
    assert few == many
    assert many <= 20


# The partial indexes made for the tick's questions, and the one-active-phase index its unlock
# query probes per candidate; any other way into the phases table reads far more of it.
TICK_INDEXES = {
    "phase_lease_expiry_idx",
    "phase_unlock_idx",
    "phase_assign_idx",
    "phase_review_queue_idx",
    "phase_one_active_per_account",
}


def phase_table_reads(plan: dict, phase_indexes: set[str]) -> list[str]:
    """How each node of an EXPLAIN (FORMAT JSON) plan reads the phases table: "Seq Scan" or
    the index it uses."""
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") == "warmup_warmupphase":
        found.append("Seq Scan")
    if plan.get("Index Name") in phase_indexes:
        found.append(plan["Index Name"])
    for child in plan.get("Plans", []):
        found += phase_table_reads(child, phase_indexes)
    return found


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_on_a_fleet_of_thousands_the_idle_tick_reads_only_its_partial_indexes(fleet_filler):
    # given: 1,000 accounts (5,000 phases) built as the benchmark fleet, committed, then
    # vacuumed and analyzed as autovacuum would: the rest of the suite's rolled-back rows leave
    # dead tuples and index entries behind that no production table carries for long, and the
    # planner would price the partial indexes by them
    built_at = datetime.now(UTC).replace(microsecond=0)
    with transaction.atomic(), connection.cursor() as cursor:
        fleet_filler(cursor, 1000, built_at)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE warmup_warmupphase")
        cursor.execute("ANALYZE")
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'warmup_warmupphase'")
        phase_indexes = {name for (name,) in cursor.fetchall()}
    assert check_integrity() == []
    while review_hours_count_due(now=built_at):  # as the fleet's builder leaves them
        pass

    # when: the tick runs at the fleet's moment, when nothing is due
    with CaptureQueriesContext(connection) as queries:
        assert tick(now=built_at) == TickReport()

    # then: each of its questions reads the phases table only through the tick's indexes
    # (never a sequential scan, nor a walk of the primary key)
    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert len(selects) >= 4
    with connection.cursor() as cursor:
        for sql in selects:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            reads = phase_table_reads(plan[0]["Plan"], phase_indexes)
            if '"warmup_warmupphase"' not in sql:
                # the breakers' step asks its own small table for the live breakers, the
                # partitions' step PostgreSQL's catalog which months have a partition, the
                # review log's hours step its small table for the hours it kept
                own = ('"warmup_breaker"', " pg_", '"reviews_reviewloghour"')
                assert any(table in sql for table in own) and reads == [], sql
                continue
            assert reads, sql
            assert set(reads) <= TICK_INDEXES, (reads, sql)


def claim_everything(bot) -> list:
    claimed = []
    while (phase := phase_claim(bot=bot)) is not None:
        claimed.append(phase)
    return claimed


def expiry_tick(clock, bot, *, size: int, keep: bool = False) -> tuple[int, list, list]:
    """A tick that expires `2 * size` leases at once: `size` on their third expiry (out of
    retries: they go to review) and `size` on their first (retried). Returns its statements
    and the two groups' phases. Built and measured in a transaction rolled back unless
    `keep`."""
    with transaction.atomic():
        veterans = [AccountFactory() for _ in range(size)]
        for _ in range(2):  # two expiries each: the lease_expired policy allows two retries
            tick()
            assert len(claim_everything(bot)) == size
            clock.shift(timedelta(hours=3))
            assert tick().expired == size
            clock.shift(timedelta(hours=3))
        newcomers = [AccountFactory() for _ in range(size)]
        tick()
        assert len(claim_everything(bot)) == 2 * size
        clock.shift(timedelta(hours=3))
        with CaptureQueriesContext(connection) as queries:
            report = tick()
        assert report.expired == 2 * size
        escalated = [account.phases.order_by("order").first() for account in veterans]
        retried = [account.phases.order_by("order").first() for account in newcomers]
        assert check_integrity() == []
        transaction.set_rollback(not keep)
    return len(queries), escalated, retried


@pytest.mark.django_db
def test_expiring_many_leases_costs_the_same_statements_as_expiring_a_few(clock, bot, content_pool):
    # given: leases that expire in one tick, some out of retries and some not, few or many
    few, _, _ = expiry_tick(clock, bot, size=2)
    many, escalated, retried = expiry_tick(clock, bot, size=8, keep=True)

    # then: the tick expires them as a batch, not one by one
    assert few == many

    # and each got what the policy says: review once out of retries, a retry otherwise, with
    # its attempt closed and (for review) a log row naming the expiry
    assert {phase.status for phase in escalated} == {PhaseStatus.REVIEW_REQUIRED}
    assert {phase.status for phase in retried} == {PhaseStatus.CONTENT_ASSIGNED}
    assert {phase.retry_count for phase in retried} == {1}
    for phase in escalated + retried:
        attempt = phase.attempts.order_by("-number").first()
        assert attempt.outcome == AttemptOutcome.LEASE_EXPIRED
        assert attempt.retry_count_after == phase.retry_count
        assert attempt.details["bot"] == phase.bot.name
    for phase in escalated:
        row = phase.review_logs.get(action=ReviewAction.ESCALATED)
        assert row.note == phase.last_failure_reason
        assert phase.last_failure_category == FailureCategory.LEASE_EXPIRED
