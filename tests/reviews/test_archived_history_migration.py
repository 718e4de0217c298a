"""Reversing the migration that made the archive records (reviews 0013) refuses while a month
is archived: the records are what the integrity checker starts the archived chains at and what
restore_history checks a file against, so dropping them would lose the archive's proof."""

from datetime import UTC, datetime
from importlib import import_module

import pytest
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from reviews.models import ArchivedMonth
from tests.conftest import requires_postgres

migration = import_module("reviews.migrations.0013_archived_history")

# Django runs a migration's reverse inside a transaction only where schema changes are
# transactional; on SQLite it cannot inside the test's transaction.
pytestmark = [requires_postgres, pytest.mark.django_db]


def unapply() -> None:
    executor = MigrationExecutor(connection)
    state = executor.loader.project_state(("reviews", "0013_archived_history"), at_end=True)
    executor.unapply_migration(
        state, executor.loader.get_migration("reviews", "0013_archived_history")
    )


def tables() -> set[str]:
    return set(connection.introspection.table_names())


def test_reversing_refuses_while_a_month_is_archived_and_keeps_the_records():
    ArchivedMonth.objects.create(
        table="warmup_phaseattempt",
        month="2025-06",
        file="warmup_phaseattempt_p2025_06.copy.gz",
        sha256="0" * 64,
        rows=2,
        archived_at=datetime(2026, 12, 6, tzinfo=UTC),
        manifest={},
    )

    with pytest.raises(CommandError) as refused:
        unapply()

    assert str(refused.value) == migration.ARCHIVED_MONTHS_LEFT.format(count=1)
    assert {"reviews_archivedmonth", "reviews_archivedchainhead"} <= tables()
    assert ArchivedMonth.objects.count() == 1


def test_reversing_without_archived_months_drops_the_tables():
    unapply()

    assert not {"reviews_archivedmonth", "reviews_archivedchainhead"} & tables()
