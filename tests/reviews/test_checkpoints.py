"""Review log checkpoints: the scheduler signs the log every REVIEW_LOG_CHECKPOINT_SECONDS, and
`check_warmup_integrity` finds what the hash chain alone cannot: a chain cut at its end, a last
row rewritten with a recomputed hash, a deleted or rewritten checkpoint."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from config.monitoring import scrape_registry
from reviews.models import (
    AppendOnlyError,
    ReviewLog,
    ReviewLogCheckpoint,
    ReviewLogCheckpointHead,
)
from tests.conftest import requires_postgres
from tests.factories import AccountFactory, WarmupPhaseFactory, new_item_in_review
from tests.integrity import assert_integrity, run_integrity_check
from warmup.domain import errors
from warmup.domain.checkpoints import heads_root
from warmup.lifecycle.chain import row_hash, values_of
from warmup.selectors.checkpoints import log_heads, statement_of
from warmup.selectors.integrity import check_chains
from warmup.services import checkpoints
from warmup.services import tick as tick_module
from warmup.services.checkpoints import checkpoint_write
from warmup.services.review import review_assign, review_comment
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db
KEY = "checkpoint-key-for-tests"


@pytest.fixture
def keyed(settings):
    settings.REVIEW_LOG_CHECKPOINT_KEY = KEY
    settings.REVIEW_LOG_CHECKPOINT_SECONDS = 300
    return settings


@pytest.fixture
def commented(content_pool, bot, reviewer, reviewer_actor):
    """A phase with three log rows (escalated, assigned, commented) and another with one."""
    phase = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    review_assign(phase_id=phase.pk, assignee=reviewer, actor=reviewer_actor)
    review_comment(phase_id=phase.pk, note="looking", actor=reviewer_actor)
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    rows = list(ReviewLog.objects.filter(phase=phase).order_by("id"))
    assert [row.action for row in rows] == ["escalated", "assigned", "commented"]
    return rows


@contextmanager
def behind_the_apps_back():
    """A cursor that may change and delete log and checkpoint rows: on PostgreSQL the
    append-only triggers are disabled inside the test's transaction (rolled back with it)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table, trigger in (
                ("reviews_reviewlog", "reviews_reviewlog_no_update_delete"),
                ("reviews_reviewlogcheckpoint", "reviews_reviewlogcheckpoint_no_update_delete"),
                (
                    "reviews_reviewlogcheckpointhead",
                    "reviews_reviewlogcheckpointhead_no_update_delete",
                ),
            ):
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        yield cursor


def notes() -> str:
    """What the command says on standard error about the checkpoints it could rest on."""
    err = StringIO()
    try:
        call_command("check_warmup_integrity", stdout=StringIO(), stderr=err)
    except CommandError:
        pass
    return err.getvalue()


def checkpoint_lines(printed: str) -> list[str]:
    return [line for line in printed.splitlines() if line.startswith("checkpoint:")]


# --- Writing them ---------------------------------------------------------------------------


def test_without_the_key_no_checkpoint_is_written_and_the_checker_says_so(commented, settings):
    settings.REVIEW_LOG_CHECKPOINT_KEY = ""

    tick()

    assert ReviewLogCheckpoint.objects.count() == 0
    assert_integrity()
    assert errors.CHECKPOINT_NO_KEY in notes()
    assert "REVIEW_LOG_CHECKPOINT_KEY is not set" in notes()


def test_a_checkpoint_given_without_the_key_is_a_usage_error(commented, settings):
    settings.REVIEW_LOG_CHECKPOINT_KEY = ""

    code, printed = run_integrity_check("--checkpoint", "1")

    assert code == 2
    assert errors.CHECKPOINT_GIVEN_NEEDS_KEY in printed


def test_with_the_key_and_none_written_yet_the_checker_says_so(commented, keyed):
    assert_integrity()

    assert "Checkpoints: none written yet (the scheduler writes one every 300 s)" in notes()


def test_the_scheduler_writes_one_every_interval_not_every_tick(commented, keyed):
    start = timezone.now()

    tick(now=start)
    tick(now=start + timedelta(seconds=5))
    tick(now=start + timedelta(seconds=299))
    assert ReviewLogCheckpoint.objects.count() == 1

    tick(now=start + timedelta(seconds=300))
    tick(now=start + timedelta(seconds=305))
    assert list(
        ReviewLogCheckpoint.objects.order_by("number").values_list("number", flat=True)
    ) == [
        1,
        2,
    ]
    assert_integrity()
    assert "the log was checked against checkpoint 2 (2 in the database)" in notes()


def test_a_failing_checkpoint_is_logged_and_does_not_fail_the_tick(
    commented, keyed, monkeypatch, caplog
):
    def time_out(**kwargs):
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(tick_module, "checkpoints_write_due", time_out)

    tick()

    assert "Writing a review log checkpoint failed; the next tick tries again" in caplog.text


def test_a_checkpoint_states_the_log_and_verifies_with_the_key(commented, keyed):
    statement = checkpoint_write(now=timezone.now())

    last = ReviewLog.objects.order_by("-id").first()
    assert statement.number == 1
    assert statement.last_row == last.pk
    assert statement.rows == ReviewLog.objects.count() == 4
    assert statement.chains == 2
    assert statement.root == heads_root(log_heads(up_to=last.pk))[0]
    stored = statement_of(ReviewLogCheckpoint.objects.get())
    assert stored == statement
    assert stored.verifies(KEY) and not stored.verifies("another key")


def test_the_checkpoint_goes_to_the_log_and_to_metrics(
    commented, keyed, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        statement = checkpoint_write(now=timezone.now())

    assert "review_log_checkpoint" in caplog.text
    assert statement.root in caplog.text and statement.mac in caplog.text
    scraped = {
        sample.name: sample
        for family in scrape_registry().collect()
        for sample in family.samples
        if sample.name.startswith("warmup_review_log_checkpoint")
    }
    assert scraped["warmup_review_log_checkpoint_rows"].value == 4
    info = scraped["warmup_review_log_checkpoint_info"].labels
    assert info["root"] == statement.root and info["mac"] == statement.mac
    assert info["number"] == "1" and info["rows"] == "4"


def test_checkpoints_are_append_only(commented, keyed):
    checkpoint_write(now=timezone.now())

    with pytest.raises(AppendOnlyError):
        ReviewLogCheckpoint.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        ReviewLogCheckpoint.objects.get().delete()


def test_later_checkpoints_record_only_the_chains_that_moved(commented, keyed, reviewer_actor):
    phase = commented[0].phase
    checkpoint_write(now=timezone.now())
    review_comment(phase_id=phase.pk, note="still looking", actor=reviewer_actor)

    second = checkpoint_write(now=timezone.now() + timedelta(minutes=5))

    assert second.number == 2 and second.rows == 5
    assert list(ReviewLogCheckpointHead.objects.filter(number=2).values_list("kind", "chain")) == [
        ("phase", phase.pk)
    ]
    assert_integrity()


# --- What the checker now finds ---------------------------------------------------------------


def test_a_chain_cut_at_its_end_is_named(commented, keyed):
    _, _, last = commented
    checkpoint_write(now=timezone.now())
    with behind_the_apps_back() as cursor:
        cursor.execute("DELETE FROM reviews_reviewlog WHERE id = %s", [last.pk])
    assert list(check_chains()) == []  # the hash chain alone does not see it

    code, printed = run_integrity_check()

    assert code == 1, printed
    lines = checkpoint_lines(printed)
    cut = [line for line in lines if f"phase {last.phase_id} was cut" in line]
    assert cut, printed
    assert f"log row {last.pk}, its last row at checkpoint 1, is gone" in cut[0]
    assert any("counted 4 log rows" in line and "has 3 there now" in line for line in lines)


def test_a_last_row_rewritten_with_a_recomputed_hash_is_named(commented, keyed):
    _, assigned, last = commented
    checkpoint_write(now=timezone.now())
    forged = values_of(last) | {"note": "nothing to see"}
    with behind_the_apps_back() as cursor:
        cursor.execute(
            "UPDATE reviews_reviewlog SET note = %s, hash = %s WHERE id = %s",
            ["nothing to see", row_hash(forged, assigned.hash), last.pk],
        )
    assert list(check_chains()) == []

    code, printed = run_integrity_check()

    assert code == 1, printed
    assert (
        f"checkpoint: The chain of phase {last.phase_id} was rewritten: log row {last.pk}, "
        "its last row at checkpoint 1, has another hash now."
    ) in printed


def test_a_cut_chain_is_not_signed_over_by_the_next_checkpoint(commented, keyed, caplog):
    _, _, last = commented
    checkpoint_write(now=timezone.now())
    with behind_the_apps_back() as cursor:
        cursor.execute("DELETE FROM reviews_reviewlog WHERE id = %s", [last.pk])

    assert checkpoint_write(now=timezone.now() + timedelta(minutes=5)) is None

    assert ReviewLogCheckpoint.objects.count() == 1
    assert "review_log_checkpoint_refused" in caplog.text
    code, printed = run_integrity_check()
    assert code == 1 and f"phase {last.phase_id} was cut" in printed


@pytest.mark.parametrize("then_extended", [False, True])
def test_a_rewritten_head_is_not_signed_over(
    commented, keyed, caplog, reviewer_actor, then_extended
):
    # given: a checkpoint, then the chain's last row rewritten with a recomputed hash (and,
    # perhaps, the app writing a new row on top of the forged one)
    _, assigned, last = commented
    checkpoint_write(now=timezone.now())
    forged = values_of(last) | {"note": "nothing to see"}
    with behind_the_apps_back() as cursor:
        cursor.execute(
            "UPDATE reviews_reviewlog SET note = %s, hash = %s WHERE id = %s",
            ["nothing to see", row_hash(forged, assigned.hash), last.pk],
        )
    if then_extended:
        review_comment(phase_id=last.phase_id, note="on top", actor=reviewer_actor)
        assert list(check_chains()) == []

    # when: the next checkpoint is due
    assert checkpoint_write(now=timezone.now() + timedelta(minutes=5)) is None

    # then: nothing is signed over it, and the checker names the chain
    assert ReviewLogCheckpoint.objects.count() == 1
    assert "review_log_checkpoint_refused" in caplog.text
    code, printed = run_integrity_check()
    assert code == 1 and f"phase {last.phase_id} was rewritten" in printed


def test_a_deleted_checkpoint_is_named(commented, keyed, reviewer_actor):
    phase = commented[0].phase
    start = timezone.now()
    for minutes in (0, 5, 10):
        review_comment(phase_id=phase.pk, note=f"at {minutes}", actor=reviewer_actor)
        checkpoint_write(now=start + timedelta(minutes=minutes))
    with behind_the_apps_back() as cursor:
        cursor.execute("DELETE FROM reviews_reviewlogcheckpoint WHERE number = 2")

    code, printed = run_integrity_check()

    assert code == 1, printed
    assert checkpoint_lines(printed) == [
        "checkpoint: Checkpoint 2 is missing (the numbers go from 1 to 3): it was deleted."
    ]


def test_a_deleted_latest_checkpoint_shows_against_its_copy_from_the_log_line(
    commented, keyed, reviewer_actor
):
    # given: two checkpoints, the second copied from its log line, then deleted with a row
    phase = commented[0].phase
    checkpoint_write(now=timezone.now())
    review_comment(phase_id=phase.pk, note="later", actor=reviewer_actor)
    copied = checkpoint_write(now=timezone.now() + timedelta(minutes=5)).line()
    latest = ReviewLog.objects.order_by("-id").first()
    with behind_the_apps_back() as cursor:
        cursor.execute("DELETE FROM reviews_reviewlogcheckpoint WHERE number = 2")
        cursor.execute("DELETE FROM reviews_reviewlog WHERE id = %s", [latest.pk])
    assert run_integrity_check()[0] == 0  # the database alone now looks whole

    # when: the copy is given
    code, printed = run_integrity_check("--checkpoint", copied)

    # then: the deleted checkpoint and the cut chain are named
    assert code == 1, printed
    lines = checkpoint_lines(printed)
    assert any("Checkpoint 2 is not in the database" in line for line in lines), printed
    assert any(f"phase {phase.pk} was cut: log row {latest.pk}" in line for line in lines)


@pytest.mark.parametrize("cut_too", [False, True])
def test_changed_recorded_heads_are_named_and_prove_nothing(commented, keyed, cut_too):
    # given: a checkpoint whose recorded heads are then changed (and perhaps a chain cut)
    _, _, last = commented
    signed = checkpoint_write(now=timezone.now())
    with behind_the_apps_back() as cursor:
        cursor.execute(
            "UPDATE reviews_reviewlogcheckpointhead SET hash = %s WHERE chain = %s",
            ["0" * 64, last.phase_id],
        )
        if cut_too:
            cursor.execute("DELETE FROM reviews_reviewlog WHERE id = %s", [last.pk])

    code, printed = run_integrity_check()

    # then: the heads are reported; a cut shows without a name (the heads cannot be trusted)
    assert code == 1
    lines = checkpoint_lines(printed)
    assert f"checkpoint: {errors.INTEGRITY_CHECKPOINT_HEADS.format(number=1)}" in lines
    unnamed = errors.INTEGRITY_CHECKPOINT_UNNAMED.format(number=1, last_row=signed.last_row)
    assert (f"checkpoint: {unnamed}" in lines) is cut_too
    assert not any(line.startswith("checkpoint: The chain of") for line in lines)


def test_a_checkpoint_given_by_number_that_is_gone_is_named(commented, keyed):
    checkpoint_write(now=timezone.now())

    code, printed = run_integrity_check("--checkpoint", "7")

    assert code == 1
    assert checkpoint_lines(printed) == [
        "checkpoint: Checkpoint 7 is not in the database (given with --checkpoint): it was deleted."
    ]


def test_a_rewritten_checkpoint_row_is_named(commented, keyed):
    copied = checkpoint_write(now=timezone.now()).line()
    with behind_the_apps_back() as cursor:
        cursor.execute("UPDATE reviews_reviewlogcheckpoint SET rows = rows + 1")

    code, printed = run_integrity_check("--checkpoint", copied)

    assert code == 1
    lines = checkpoint_lines(printed)
    assert errors.INTEGRITY_CHECKPOINT_MAC.format(number=1) in printed
    assert any(
        "Checkpoint 1 in the database is not the one given (its rows differ)" in line
        for line in lines
    )


def test_a_checkpoint_line_signed_with_another_key_is_refused(commented, keyed, settings):
    copied = checkpoint_write(now=timezone.now()).line()
    settings.REVIEW_LOG_CHECKPOINT_KEY = "another key"

    code, printed = run_integrity_check("--checkpoint", copied)

    assert code == 1
    assert errors.INTEGRITY_CHECKPOINT_MAC.format(number=1) in printed


def test_a_bad_checkpoint_value_is_a_usage_error(commented, keyed):
    code, printed = run_integrity_check("--checkpoint", json.dumps({"number": 1}))

    assert code == 2
    assert "is neither a checkpoint number nor a checkpoint's JSON line: it lacks" in printed


# --- Writers under way ------------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_waits_for_a_writer_holding_a_lower_row_id(
    default_plan, content_pool, bot, reviewer_actor, keyed, monkeypatch
):
    # given: a writer whose row has an id below a row committed after it, still open
    first, second = new_item_in_review(bot), new_item_in_review(bot)
    opened, release = threading.Event(), threading.Event()

    def hold_a_row_open():
        try:
            with transaction.atomic():
                review_comment(phase_id=first.pk, note="open", actor=reviewer_actor)
                opened.set()
                release.wait(30)
        finally:
            opened.set()
            connection.close()

    writer = threading.Thread(target=hold_a_row_open)
    writer.start()
    try:
        opened.wait(30)
        review_comment(phase_id=second.pk, note="committed", actor=reviewer_actor)
        monkeypatch.setattr(checkpoints, "SETTLE_SECONDS", 0.3)

        # when: a checkpoint is due while it is open
        postponed = checkpoint_write(now=timezone.now())
    finally:
        release.set()
        writer.join()

    # then: none is signed over the gap; once it commits, one covers both rows
    assert postponed is None
    signed = checkpoint_write(now=timezone.now())
    assert signed.rows == ReviewLog.objects.count()
    assert ReviewLog.objects.filter(note="open", id__lte=signed.last_row).exists()
    assert_integrity()
