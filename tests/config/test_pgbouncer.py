"""The bots' hot path through PgBouncer in transaction mode (Debian's package, started by
`scripts/pgbouncer.sh`, which `.ci/run` runs, on port TEST_PGBOUNCER_PORT): sixteen bots claim and
complete at once over a pool of four server connections, each statement on whichever server
connection PgBouncer hands out. With DATABASE_POOLED=1 (the bots' statements unprepared) no
phase is handed out twice and nothing fails; with the statements prepared, as without the
setting, Debian 12's PgBouncer 1.18 (no `max_prepared_statements`) breaks them.

Without a PgBouncer these tests skip, unless REQUIRE_PGBOUNCER=1 (as in `.ci/run`).
"""

import os
from collections import Counter

import psycopg
import pytest
from django.db import connections

from tests.conftest import requires_postgres
from tests.factories import AccountFactory, BotFactory, ContentItemFactory
from tests.warmup.services.test_concurrency import errors_of, run_together
from warmup.models import AttemptOutcome, PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.services.bot_work import phase_claim, phase_complete
from warmup.services.tick import tick

PGBOUNCER_PORT = os.environ.get("TEST_PGBOUNCER_PORT", "")
REQUIRED = os.environ.get("REQUIRE_PGBOUNCER") == "1"
BOTS = 16
ACCOUNTS = 160

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_plan"),
]


@pytest.fixture
def through_pgbouncer():
    """Connections opened from here on (each bot thread's) go through PgBouncer, as with
    DATABASE_URL pointing at it and DATABASE_POOLED=1: no startup options."""
    if not PGBOUNCER_PORT:
        message = "no PgBouncer: scripts/pgbouncer.sh start, then TEST_PGBOUNCER_PORT=6432"
        if REQUIRED:
            pytest.fail(f"REQUIRE_PGBOUNCER=1 but {message}")
        pytest.skip(message)
    shared = connections.settings["default"]  # the dict every thread's connection is made from
    before = {"PORT": shared["PORT"], "OPTIONS": shared["OPTIONS"]}
    shared["PORT"] = PGBOUNCER_PORT
    shared["OPTIONS"] = {k: v for k, v in shared["OPTIONS"].items() if k != "options"}
    yield
    shared.update(before)
    # PgBouncer keeps its server connections to the test database open; dropped here, or the
    # test database could not be dropped at the end of the run.
    pgbouncer_console(f"KILL {tested_database()}")
    pgbouncer_console(f"RESUME {tested_database()}")


@pytest.fixture
def ready_fleet():
    ContentItemFactory.create_batch(3, phase_type="profile_bio")
    accounts = AccountFactory.create_batch(ACCOUNTS)
    tick()
    return accounts


def pgbouncer_console(command: str) -> list[dict]:
    """A command to PgBouncer's admin console (which speaks the simple query protocol only)."""
    with psycopg.connect(
        host="127.0.0.1",
        port=PGBOUNCER_PORT,
        user="postgres",
        dbname="pgbouncer",
        autocommit=True,
        cursor_factory=psycopg.ClientCursor,
    ) as admin:
        rows = admin.execute(command)
        if rows.description is None:
            return []
        columns = [column.name for column in rows.description]
        return [dict(zip(columns, row, strict=True)) for row in rows.fetchall()]


def tested_database() -> str:
    return connections["default"].settings_dict["NAME"]


def pgbouncer_transactions() -> int:
    """How many transactions PgBouncer has passed to the test database so far."""
    stats = pgbouncer_console("SHOW STATS")
    return sum(
        int(row["total_xact_count"]) for row in stats if row["database"] == tested_database()
    )


def claim_and_complete_until_empty(bot):
    def work():
        done = []
        while (phase := phase_claim(bot=bot, phase_types=["profile_bio"])) is not None:
            phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
            done.append(phase.pk)
        return done

    return work


def test_sixteen_bots_claim_and_complete_through_pgbouncer_each_phase_once(
    through_pgbouncer, ready_fleet, settings
):
    settings.DATABASE_PREPARED_STATEMENTS = False  # what DATABASE_POOLED=1 sets
    bots = BotFactory.create_batch(BOTS)
    before = pgbouncer_transactions()

    outcomes = run_together(*(claim_and_complete_until_empty(bot) for bot in bots))

    assert errors_of(outcomes) == []
    assert pgbouncer_transactions() - before >= 2 * ACCOUNTS  # each claim and completion
    handed_out = Counter(pk for done, _ in outcomes for pk in done)
    assert len(handed_out) == ACCOUNTS  # every ready first step, claimed and completed
    assert max(handed_out.values()) == 1  # none twice
    assert not WarmupPhase.objects.filter(pk__in=handed_out, status=PhaseStatus.IN_PROGRESS)
    completed = PhaseAttempt.objects.filter(
        phase_id__in=handed_out, outcome=AttemptOutcome.COMPLETED
    )
    assert completed.count() == ACCOUNTS
    assert sum(1 for done, _ in outcomes if done) > 1  # the bots shared the work


def test_prepared_statements_break_behind_pgbouncer_1_18_which_is_why_pooled_turns_them_off(
    through_pgbouncer, ready_fleet, settings
):
    settings.DATABASE_PREPARED_STATEMENTS = True  # as without DATABASE_POOLED
    bots = BotFactory.create_batch(BOTS)

    outcomes = run_together(*(claim_and_complete_until_empty(bot) for bot in bots))

    said = " ".join(str(error) for error in errors_of(outcomes))
    assert "prepared statement" in said, said
