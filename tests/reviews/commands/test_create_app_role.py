"""manage.py create_app_role: a login role that may only SELECT and INSERT on the review log,
and under which the app still does its work."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from reviews.models import ReviewLog
from tests.conftest import requires_postgres
from tests.connections import raw_connection
from tests.factories import AccountFactory, WarmupPhaseFactory
from tests.integrity import assert_integrity
from warmup.models import PhaseStatus
from warmup.services.resolutions import review_resume

LOG = ReviewLog._meta.db_table


def create_role(*args) -> tuple[int, str]:
    try:
        call_command("create_app_role", *args)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, ""


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Robert'); DROP TABLE x; --", "9lives", "a" * 64, ""])
def test_a_name_that_is_no_plain_role_name_is_a_usage_error(name):
    code, message = create_role(name)

    assert code == 2
    assert "is not a role name" in message


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite answer")
def test_sqlite_is_a_usage_error():
    code, message = create_role("warmup_app")

    assert code == 2
    assert "needs PostgreSQL" in message


@requires_postgres
@pytest.mark.django_db
def test_a_password_variable_that_is_not_set_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("WARMUP_TEST_NO_SUCH_VAR", raising=False)

    code, message = create_role("warmup_app", "--password-env", "WARMUP_TEST_NO_SUCH_VAR")

    assert code == 2
    assert "WARMUP_TEST_NO_SUCH_VAR" in message


@requires_postgres
@pytest.mark.django_db
def test_the_owner_cannot_be_the_app_role():
    code, message = create_role(connection.settings_dict["USER"])

    assert code == 2
    assert "owner of the tables" in message


# --- As the role -------------------------------------------------------------------------


@pytest.fixture
def app_role(transactional_db, monkeypatch):
    """A role made by the command (a name of its own: roles belong to the whole cluster),
    dropped afterwards with the rights it holds in the test database."""
    name = f"warmup_app_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("WARMUP_TEST_APP_PASSWORD", "app-secret")
    assert create_role(name, "--password-env", "WARMUP_TEST_APP_PASSWORD") == (0, "")
    yield name
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{name}"')
        cursor.execute(f'DROP ROLE "{name}"')


def connect_as(role: str) -> psycopg.Connection:
    return raw_connection(user=role, password="app-secret", autocommit=True)


@contextmanager
def app_connects_as(role: str):
    """Django's default connection reopened as `role` for the while."""
    settings = connection.settings_dict
    saved = settings["USER"], settings["PASSWORD"]
    connection.close()
    settings["USER"], settings["PASSWORD"] = role, "app-secret"
    try:
        yield
    finally:
        connection.close()
        settings["USER"], settings["PASSWORD"] = saved


# What the role may not do to the log, and how PostgreSQL refuses it: by the rights
# themselves, before the append-only trigger would be asked.
REFUSED = {
    f"UPDATE {LOG} SET note = 'rewritten'": f"permission denied for table {LOG}",
    f"DELETE FROM {LOG}": f"permission denied for table {LOG}",
    f"TRUNCATE {LOG}": f"permission denied for table {LOG}",
    f"ALTER TABLE {LOG} DISABLE TRIGGER reviews_reviewlog_no_update_delete": (
        f"must be owner of table {LOG}"
    ),
    "SET session_replication_role = replica": "permission denied to set parameter",
}


@requires_postgres
def test_the_role_cannot_change_the_log_nor_turn_its_guards_off(
    app_role, content_pool, bot, default_plan
):
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    rows = list(ReviewLog.objects.values_list("id", "note", "hash"))
    refusals = {}
    with connect_as(app_role) as conn:
        for statement in REFUSED:
            try:
                conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege as exc:
                refusals[statement] = str(exc)

    assert set(refusals) == set(REFUSED)
    for statement, refusal in REFUSED.items():
        assert refusal in refusals[statement]
    assert list(ReviewLog.objects.values_list("id", "note", "hash")) == rows


@requires_postgres
def test_the_role_can_read_and_append_to_the_log(app_role, content_pool, bot, default_plan):
    phase = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    with connect_as(app_role) as conn:
        count = conn.execute(f"SELECT count(*) FROM {LOG}").fetchone()[0]
        conn.execute(
            f"INSERT INTO {LOG} (phase_id, account_id, action, actor_type, from_status, "
            "to_status, failure_category, retry_count, escalation_level, resolution_method, "
            "reason_code, note, data, created_at, previous_hash, hash) VALUES (%s, %s, "
            "'commented', 'system', '', '', '', 0, 0, '', '', 'by the app role', '{}', %s, '', '')",
            [phase.pk, phase.account_id, timezone.now()],
        )

    assert count == 1
    assert ReviewLog.objects.filter(note="by the app role").count() == 1


@requires_postgres
def test_the_app_works_as_the_role(app_role, content_pool, bot, reviewer_actor, default_plan):
    with app_connects_as(app_role):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == app_role
        # a claim, a failure that goes to review, a resolution: every write of a day's work
        phase = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
        review_resume(
            phase_id=phase.pk,
            reason_code="solved_challenge",
            note="solved it",
            actor=reviewer_actor,
        )
        phase.refresh_from_db()

    assert phase.status == PhaseStatus.AVAILABLE
    actions = list(ReviewLog.objects.filter(phase=phase).order_by("id").values_list("action"))
    assert actions == [("escalated",), ("resumed",)]
    assert_integrity()
