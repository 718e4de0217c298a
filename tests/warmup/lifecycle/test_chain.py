"""The ReviewLog hash chain: every writer chains its rows, the checker names the first broken
row of a chain changed behind the app's back, and writers of different phases never wait on
each other."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection, transaction

from reviews.models import ReviewLog
from tests.conftest import requires_postgres
from tests.factories import AccountFactory, WarmupPhaseFactory, new_item_in_review
from tests.integrity import assert_integrity, run_integrity_check
from warmup.domain.choices import ReviewAction
from warmup.lifecycle.chain import CHAIN_START, canonical, row_hash, values_of
from warmup.selectors.integrity import check_chains, check_integrity
from warmup.services import resolutions
from warmup.services.accounts import account_pause
from warmup.services.review import review_assign, review_comment

pytestmark = pytest.mark.django_db
WHY = {"reason_code": "replaced_proxy", "note": "proxy pool back"}


@pytest.fixture
def commented(content_pool, bot, reviewer, reviewer_actor):
    """A phase with three log rows: escalated, assigned, commented."""
    phase = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    review_assign(phase_id=phase.pk, assignee=reviewer, actor=reviewer_actor)
    review_comment(phase_id=phase.pk, note="looking", actor=reviewer_actor)
    rows = list(ReviewLog.objects.filter(phase=phase).order_by("id"))
    assert [row.action for row in rows] == ["escalated", "assigned", "commented"]
    return rows


@contextmanager
def behind_the_apps_back():
    """A cursor that may change and delete log rows: on PostgreSQL the append-only trigger is
    disabled inside the test's transaction (rolled back with it); SQLite has no trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                "ALTER TABLE reviews_reviewlog DISABLE TRIGGER reviews_reviewlog_no_update_delete"
            )
        yield cursor


def chain_breaks() -> list[tuple[int, str]]:
    return [(v.ids["row"], v.message) for v in check_chains()]


def test_rows_follow_the_last_row_of_their_phase(commented):
    escalated, assigned, note = commented

    assert escalated.previous_hash == CHAIN_START
    assert assigned.previous_hash == escalated.hash
    assert note.previous_hash == assigned.hash
    assert note.hash == row_hash(values_of(ReviewLog.objects.get(pk=note.pk)), assigned.hash)


def test_bulk_resolutions_and_their_undo_extend_each_phase_chain(bot, content_pool, reviewer):
    first, second = new_item_in_review(bot), new_item_in_review(bot)
    run = uuid.uuid4()
    actor = resolutions.Actor.for_user(reviewer)
    resolutions.reviews_resolve(
        phase_ids=[first.pk, second.pk], method="retry", actor=actor, batch=run, **WHY
    )
    resolutions.batch_undo(
        undo=run, phase_ids=[first.pk, second.pk], note="too early", actor=actor, batch=uuid.uuid4()
    )

    for phase in (first, second):
        rows = list(ReviewLog.objects.filter(phase=phase).order_by("id"))
        assert [row.action for row in rows] == ["escalated", "retried", "resolution_undone"]
        assert [row.previous_hash for row in rows] == [CHAIN_START, rows[0].hash, rows[1].hash]
    assert_integrity()


def test_a_changed_row_is_named(commented):
    _, assigned, _ = commented
    with behind_the_apps_back() as cursor:
        cursor.execute(
            "UPDATE reviews_reviewlog SET note = %s WHERE id = %s", ["edited", assigned.pk]
        )

    breaks = chain_breaks()

    assert [row for row, _ in breaks] == [assigned.pk]
    assert "its content was changed" in breaks[0][1]
    code, printed = run_integrity_check()
    assert code == 1
    assert f"chain: Log row {assigned.pk} (phase {assigned.phase_id})" in printed


def test_a_changed_row_given_a_new_hash_breaks_the_link_to_the_next(commented):
    _, assigned, note = commented
    forged = values_of(assigned) | {"note": "nothing to see"}
    with behind_the_apps_back() as cursor:
        cursor.execute(
            "UPDATE reviews_reviewlog SET note = %s, hash = %s WHERE id = %s",
            ["nothing to see", row_hash(forged, assigned.previous_hash), assigned.pk],
        )

    breaks = chain_breaks()

    assert [row for row, _ in breaks] == [note.pk]
    assert "does not follow the row before it" in breaks[0][1]


def test_a_row_deleted_from_the_middle_names_the_next_one(commented):
    _, assigned, note = commented
    with behind_the_apps_back() as cursor:
        cursor.execute("DELETE FROM reviews_reviewlog WHERE id = %s", [assigned.pk])

    assert [row for row, _ in chain_breaks()] == [note.pk]
    assert {v.check for v in check_integrity()} == {"chain"}


def test_rows_without_a_phase_chain_per_account(bot, content_pool, reviewer_actor):
    # given: an account between phases (its next step waits out its delay), paused
    done = WarmupPhaseFactory(account=AccountFactory(), bot=bot, completed=True)
    account_pause(account=done.account, actor=reviewer_actor, note="holiday")
    first = ReviewLog.objects.get(account=done.account, action=ReviewAction.ACCOUNT_PAUSED)
    assert first.phase_id is None and first.previous_hash == CHAIN_START
    with behind_the_apps_back() as cursor:
        cursor.execute("UPDATE reviews_reviewlog SET note = 'x' WHERE id = %s", [first.pk])

    breaks = list(check_chains())

    assert [(v.ids["row"], v.ids.get("account")) for v in breaks] == [(first.pk, done.account_id)]


def test_the_migration_fills_every_chain(commented, reviewer):
    # given: rows as they were before the chain (no hashes), one of them added by hand
    escalated, _, _ = commented
    ReviewLog.objects.bulk_create(
        [
            ReviewLog(
                phase=escalated.phase,
                account=escalated.account,
                action=ReviewAction.COMMENTED,
                actor_type="user",
                actor_user=reviewer,
                note="from before the chain",
                created_at=escalated.created_at,
            )
        ]
    )
    with behind_the_apps_back() as cursor:
        cursor.execute("UPDATE reviews_reviewlog SET hash = '', previous_hash = ''")
    assert chain_breaks()

    migration = import_module("reviews.migrations.0006_reviewlog_hash_chain")
    migration.fill_chains(apps, connection.schema_editor())

    assert chain_breaks() == []
    assert ReviewLog.objects.filter(hash="").count() == 0


@requires_postgres
def test_the_migration_leaves_the_log_append_only(commented):
    migration = import_module("reviews.migrations.0006_reviewlog_hash_chain")
    migration.fill_chains(apps, connection.schema_editor())

    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE reviews_reviewlog SET note = 'x'")


# --- Concurrency -------------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_writers_of_two_phases_do_not_wait_on_each_other(
    default_plan, content_pool, bot, reviewer_actor
):
    # given: two items in review
    first, second = new_item_in_review(bot), new_item_in_review(bot)
    first_open, second_done = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def hold_a_transaction_on_the_first():
        try:
            with transaction.atomic():
                review_comment(phase_id=first.pk, note="first writer", actor=reviewer_actor)
                first_open.set()
                second_done.wait()  # the first phase's lock and its new row stay uncommitted
            outcome["first"] = "committed"
        except Exception as exc:  # reported below, with the second writer's outcome
            outcome["first"] = exc
        finally:
            first_open.set()
            connection.close()

    def write_on_the_second():
        first_open.wait()
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    # Waiting on the first writer would be the bug: fail instead of hanging.
                    cursor.execute("SET LOCAL lock_timeout = '20s'")
                review_comment(phase_id=second.pk, note="second writer", actor=reviewer_actor)
            outcome["second"] = "committed while the first was open"
        except Exception as exc:
            outcome["second"] = exc
        finally:
            second_done.set()
            connection.close()

    # when: the second writes while the first's transaction is open
    threads = [
        threading.Thread(target=hold_a_transaction_on_the_first),
        threading.Thread(target=write_on_the_second),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: both committed, each chain extended by its own row
    assert outcome == {"first": "committed", "second": "committed while the first was open"}
    for phase, note in ((first, "first writer"), (second, "second writer")):
        rows = list(ReviewLog.objects.filter(phase=phase).order_by("id"))
        assert [row.note for row in rows][-1] == note
        assert rows[-1].previous_hash == rows[-2].hash
    assert_integrity()


# --- The canonical form, as documented (an auditor can recompute a hash outside the app) --------

DOCUMENTED_ROW = {
    "phase_id": 7,
    "account_id": 3,
    "action": ReviewAction.COMMENTED,  # a choice as the writers pass it, not a plain str
    "actor_type": "user",
    "actor_user_id": 2,
    "actor_bot_id": None,
    "from_status": "review_required",
    "to_status": "review_required",
    "failure_category": "",
    "retry_count": 1,
    "escalation_level": 0,
    "resolution_method": "",
    "reason_code": "",
    "note": "café ☕",
    "time_in_review": timedelta(minutes=1, microseconds=5),
    "data": {"b": 1, "a": [1, 2]},
    "created_at": datetime(2026, 1, 2, 4, 4, 5, 6, tzinfo=dt_timezone(timedelta(hours=1))),
    "batch": "0123456789abcdef0123456789abcdef",  # as SQLite returns it: no hyphens
    "signature_id": None,
}
DOCUMENTED_CANONICAL = (
    '{"account_id":3,"action":"commented","actor_bot_id":null,"actor_type":"user",'
    '"actor_user_id":2,"batch":"01234567-89ab-cdef-0123-456789abcdef",'
    '"created_at":"2026-01-02T03:04:05.000006Z","data":{"a":[1,2],"b":1},'
    '"escalation_level":0,"failure_category":"","from_status":"review_required",'
    '"note":"café ☕","phase_id":7,"previous_hash":"ab12","reason_code":"",'
    '"resolution_method":"","retry_count":1,"time_in_review":60000005,'
    '"to_status":"review_required"}'
)


@pytest.mark.parametrize(
    "batch",
    [
        "0123456789abcdef0123456789abcdef",  # as SQLite returns it: no hyphens
        uuid.UUID("01234567-89ab-cdef-0123-456789abcdef"),  # as a writer holds it
    ],
)
def test_a_row_hash_is_the_sha256_of_its_documented_canonical_json(batch):
    # Sorted keys, no spaces, UTF-8 (not \u escapes), UTC date-times with microseconds and a Z,
    # durations in microseconds, the batch as a hyphenated UUID, no signature while it is unset.
    row = {**DOCUMENTED_ROW, "batch": batch}
    expected = hashlib.sha256(DOCUMENTED_CANONICAL.encode("utf-8")).hexdigest()

    assert canonical(row, "ab12") == DOCUMENTED_CANONICAL.encode("utf-8")
    assert row_hash(row, "ab12") == expected


def test_a_signed_row_hashes_its_signature_and_a_row_without_batch_hashes_null():
    row = {**DOCUMENTED_ROW, "signature_id": 5, "batch": None}

    content = json.loads(canonical(row, "ab12"))

    assert (content["signature_id"], content["batch"]) == (5, None)
    assert {**content, "signature_id": None, "batch": None} == {
        **json.loads(DOCUMENTED_CANONICAL),
        "signature_id": None,
        "batch": None,
    }
