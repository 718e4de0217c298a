"""The database refuses inconsistent rows even when Python is bypassed, and ReviewLog rows can
be added but never changed or deleted."""

import uuid
from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from reviews.models import REVIEW_LOG_IS_APPEND_ONLY, AppendOnlyError, ReviewLog
from tests.builders import stored
from tests.conftest import requires_postgres
from tests.factories import WarmupPhaseFactory
from warmup.models import PhaseStatus, WarmupPhase

S = PhaseStatus
PHASES = WarmupPhase._meta.db_table
LOGS = ReviewLog._meta.db_table


def refused_by_database(phase, **changes):
    """Try to write `changes` past every Python check; the database must refuse them."""
    before = stored(phase)
    with pytest.raises(IntegrityError), transaction.atomic():
        WarmupPhase.objects.filter(pk=phase.pk).update(**changes)
    assert stored(phase) == before


def raw_refused_by_database(phase, sql, params):
    before = stored(phase)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert stored(phase) == before


# --- Phases ------------------------------------------------------------------------------


def test_two_phases_of_an_account_cannot_share_an_order(account, bot):
    second = account.phases.get(order=2)

    refused_by_database(second, order=1)


def test_an_account_cannot_have_two_active_phases(account, bot):
    # given the first phase is available, the second pending
    second = account.phases.get(order=2)
    assert account.phases.get(order=1).status == S.AVAILABLE

    refused_by_database(second, status=S.AVAILABLE, available_at=timezone.now())
    raw_refused_by_database(
        second, f"UPDATE {PHASES} SET status = %s WHERE id = %s", [S.CONTENT_ASSIGNED, second.pk]
    )


def test_two_active_phases_are_refused_whatever_their_statuses(account, bot):
    # review_required counts as active too: a held phase blocks the next one
    phase = WarmupPhaseFactory(account=account, bot=bot, status=S.REVIEW_REQUIRED)
    second = account.phases.get(order=2)
    assert phase.status == S.REVIEW_REQUIRED

    refused_by_database(second, status=S.AVAILABLE)


@pytest.mark.parametrize(
    ("status", "changes"),
    [
        pytest.param(S.AVAILABLE, {"status": S.REVIEW_REQUIRED}, id="review-without-since"),
        pytest.param(S.REVIEW_REQUIRED, {"review_required_since": None}, id="review-since-cleared"),
        pytest.param(S.AVAILABLE, {"escalation_level": 1}, id="escalation-outside-review"),
        pytest.param(
            S.AVAILABLE, {"review_required_since": "<now>"}, id="review-since-outside-review"
        ),
        pytest.param(S.CONTENT_ASSIGNED, {"status": S.IN_PROGRESS}, id="in-progress-without-lease"),
        pytest.param(
            S.CONTENT_ASSIGNED,
            {"status": S.IN_PROGRESS, "bot": "<bot>", "lease_expires_at": "<later>"},
            id="in-progress-without-token",
        ),
        pytest.param(S.IN_PROGRESS, {"bot": None}, id="in-progress-without-bot"),
        pytest.param(S.IN_PROGRESS, {"lease_expires_at": None}, id="in-progress-without-expiry"),
        pytest.param(
            S.CONTENT_ASSIGNED, {"lease_token": "<token>"}, id="lease-outside-in-progress"
        ),
        pytest.param(
            S.CONTENT_ASSIGNED, {"next_attempt_at": None}, id="content-assigned-without-time"
        ),
        pytest.param(
            S.CONTENT_ASSIGNED,
            {"status": S.COMPLETED, "completion_method": "bot"},
            id="completed-without-completed-at",
        ),
        pytest.param(
            S.CONTENT_ASSIGNED,
            {"status": S.COMPLETED, "completed_at": "<now>"},
            id="completed-without-method",
        ),
        pytest.param(S.COMPLETED, {"completion_method": "by_magic"}, id="completed-unknown-method"),
        pytest.param(S.AVAILABLE, {"completed_at": "<now>"}, id="completed-at-while-active"),
        pytest.param(S.AVAILABLE, {"status": "done"}, id="unknown-status"),
        pytest.param(S.AVAILABLE, {"status": ""}, id="blank-status"),
    ],
)
def test_the_database_refuses_an_inconsistent_phase(status, changes, account, bot):
    phase = WarmupPhaseFactory(account=account, bot=bot, status=status)
    values = {
        "<now>": timezone.now(),
        "<later>": timezone.now() + timedelta(minutes=10),
        "<bot>": bot,
        "<token>": uuid.uuid4(),
    }
    changes = {key: values.get(value, value) for key, value in changes.items()}

    refused_by_database(phase, **changes)


def test_raw_sql_cannot_store_an_unknown_status(account):
    phase = account.phases.get(order=1)

    raw_refused_by_database(
        phase, f"UPDATE {PHASES} SET status = %s WHERE id = %s", ["finished", phase.pk]
    )


def test_a_consistent_update_is_accepted(account, bot):
    # the same path the refusals take does write a row that satisfies every constraint
    phase = WarmupPhaseFactory(account=account, bot=bot, status=S.AVAILABLE)

    with transaction.atomic():
        WarmupPhase.objects.filter(pk=phase.pk).update(last_failure_reason="noted")

    assert stored(phase)["last_failure_reason"] == "noted"


# --- ReviewLog is append-only ------------------------------------------------------------


@pytest.fixture
def log_row(account, bot):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    return phase.review_logs.get()


def stored_log(row) -> dict:
    return ReviewLog.objects.filter(pk=row.pk).values().get()


def test_a_review_log_row_cannot_be_saved_again(log_row):
    before = stored_log(log_row)
    log_row.note = "rewritten history"

    with pytest.raises(AppendOnlyError, match=REVIEW_LOG_IS_APPEND_ONLY):
        log_row.save()

    assert stored_log(log_row) == before


def test_a_review_log_row_cannot_be_deleted(log_row):
    with pytest.raises(AppendOnlyError, match=REVIEW_LOG_IS_APPEND_ONLY):
        log_row.delete()

    assert ReviewLog.objects.filter(pk=log_row.pk).exists()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda row: ReviewLog.objects.filter(pk=row.pk).update(note="x"), id="update"),
        pytest.param(lambda row: ReviewLog.objects.update(note="x"), id="manager-update"),
        pytest.param(lambda row: ReviewLog.objects.filter(pk=row.pk).delete(), id="delete"),
        pytest.param(lambda row: ReviewLog.objects.all().delete(), id="delete-all"),
        pytest.param(lambda row: ReviewLog.objects.bulk_update([row], ["note"]), id="bulk-update"),
    ],
)
def test_review_log_querysets_refuse_to_change_rows(log_row, change):
    before = stored_log(log_row)

    # atomic: bulk_update's own atomic block would leave the test's transaction broken
    with pytest.raises(AppendOnlyError, match=REVIEW_LOG_IS_APPEND_ONLY), transaction.atomic():
        change(log_row)

    assert stored_log(log_row) == before
    assert ReviewLog.objects.count() == 1


@requires_postgres
@pytest.mark.parametrize(
    ("sql", "operation"),
    [
        (f"UPDATE {LOGS} SET note = 'rewritten' WHERE id = %s", "UPDATE"),
        (f"DELETE FROM {LOGS} WHERE id = %s", "DELETE"),
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_raw_changes_to_review_log(log_row, sql, operation):
    before = stored_log(log_row)

    with pytest.raises(DatabaseError) as raised, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [log_row.pk])

    assert f"reviews_reviewlog is append-only: {operation} refused" in str(raised.value)
    assert stored_log(log_row) == before
