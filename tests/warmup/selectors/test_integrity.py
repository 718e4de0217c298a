"""warmup.selectors.integrity and `manage.py check_warmup_integrity`: clean on data the services
made; each check named when exactly its promise is broken behind the services' back."""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from reviews.models import ReviewLog
from tests.builders import fail, reload
from tests.factories import AccountFactory, WarmupPhaseFactory
from tests.integrity import assert_integrity, run_integrity_check
from warmup.domain.choices import ReviewAction
from warmup.lifecycle.chain import CHAIN_START, row_hash, values_of
from warmup.models import PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.selectors.integrity import check_integrity
from warmup.services import resolutions
from warmup.services.accounts import account_pause
from warmup.services.resolutions import review_resume
from warmup.services.review import review_assign, review_comment, review_hold
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db
S = PhaseStatus
WHY = {"reason_code": "replaced_proxy", "note": "proxy pool back"}


@pytest.fixture
def scenario(content_pool, bot, reviewer, reviewer_actor):
    """Phases in every state a fleet is in, made through the services: an escalated item
    assigned and commented on, a retry waiting, a completion, a bot at work, a hold, a resumed
    item, a bulk resolution undone, and a paused account."""
    escalated = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    review_assign(phase_id=escalated.pk, assignee=reviewer, actor=reviewer_actor)
    review_comment(phase_id=escalated.pk, note="looking", actor=reviewer_actor)
    retrying = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_progress=True)
    fail(retrying, bot, "network_error")
    done = WarmupPhaseFactory(account=AccountFactory(), bot=bot, completed=True)
    working = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_progress=True)
    held_account = AccountFactory()
    tick()
    held = held_account.phases.get(order=1)
    review_hold(phase_id=held.pk, note="check the profile first", actor=reviewer_actor)
    resumed = WarmupPhaseFactory(
        account=AccountFactory(), bot=bot, in_review=True, category="login_failed"
    )
    undone = WarmupPhaseFactory(
        account=AccountFactory(), bot=bot, in_review=True, category="action_blocked"
    )
    review_resume(phase_id=resumed.pk, actor=reviewer_actor, **WHY)
    run, undo = uuid.uuid4(), uuid.uuid4()
    resolutions.reviews_resolve(
        phase_ids=[undone.pk], method="retry", actor=reviewer_actor, batch=run, **WHY
    )
    resolutions.batch_undo(
        undo=run, phase_ids=[undone.pk], note="too early", actor=reviewer_actor, batch=undo
    )
    account_pause(account=done.account, actor=reviewer_actor, note="holiday")
    return {
        "escalated": reload(escalated),
        "retrying": reload(retrying),
        "done": reload(done),
        "working": reload(working),
        "held": reload(held),
        "resumed": reload(resumed),
        "undone": reload(undone),
    }


def written_past_the_services(row: ReviewLog) -> ReviewLog:
    """A log row inserted past warmup.lifecycle.review_log, as a bug or a hand-written INSERT
    would, but chained as the events chain rows (only the promise under test is broken)."""
    last = ReviewLog.objects.filter(phase=row.phase).order_by("-id").first()
    row.previous_hash = last.hash if last else CHAIN_START
    row.hash = row_hash(values_of(row), row.previous_hash)
    return ReviewLog.objects.bulk_create([row])[0]


def violated() -> set[str]:
    return {violation.check for violation in check_integrity()}


def assert_named(check: str, *ids: int) -> str:
    """The command exits 1, names `check` on a line that names each id, and nothing else."""
    code, printed = run_integrity_check()
    assert code == 1, printed
    lines = [line for line in printed.splitlines() if line.startswith(f"{check}:")]
    assert lines, printed
    assert any(all(re.search(rf"\b{pk}\b", line) for pk in ids) for line in lines), printed
    assert violated() == {check}, printed
    return printed


@contextmanager
def constraints_off(*names: str):
    """Let a test store what the database's check constraints refuse (a database whose
    constraints were dropped): PostgreSQL drops them inside the test's transaction, which rolls
    the drop back; SQLite ignores check constraints for the while."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # ALTER TABLE refuses while deferred foreign key checks are pending: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for name in names:
                cursor.execute(f'ALTER TABLE warmup_warmupphase DROP CONSTRAINT "{name}"')
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")


# --- Clean data --------------------------------------------------------------------------


def test_services_leave_no_violation(scenario):
    code, printed = run_integrity_check()

    assert code == 0, printed
    phases, rows = WarmupPhase.objects.count(), ReviewLog.objects.count()
    assert printed.strip() == f"{phases} phases, {rows} log rows checked: no violations"
    assert rows >= 10
    assert scenario["undone"].status == S.REVIEW_REQUIRED
    assert scenario["retrying"].retry_count == 1


def test_a_history_of_resolutions_is_clean(history):
    assert_integrity()


def test_an_empty_database_is_clean():
    assert run_integrity_check() == (0, "0 phases, 0 log rows checked: no violations\n")


def test_an_unknown_check_is_a_usage_error():
    with pytest.raises(CommandError, match="invalid choice: 'everything'"):
        call_command("check_warmup_integrity", "--check", "everything")


def test_one_check_can_run_alone(scenario):
    WarmupPhase.objects.filter(pk=scenario["done"].account.phases.get(order=2).pk).update(
        retry_count=3
    )

    assert run_integrity_check("--check", "lease")[0] == 0
    assert run_integrity_check("--check", "retry_count")[0] == 1


# --- One test per promise ----------------------------------------------------------------


def test_a_phase_in_review_without_the_row_that_put_it_there(scenario):
    # given: a resumed phase (its last move logged is the resume) put back in review directly
    resumed = scenario["resumed"]
    WarmupPhase.objects.filter(pk=resumed.pk).update(
        status=S.REVIEW_REQUIRED, review_required_since=timezone.now(), next_attempt_at=None
    )

    printed = assert_named("review_entry", resumed.pk)

    assert "resumed" in printed


def test_a_resolution_row_without_a_note(scenario, reviewer):
    # given: a resolution row written past the services, its note blank
    phase = scenario["escalated"]
    row = ReviewLog(
        phase=phase,
        account=phase.account,
        action=ReviewAction.RESUMED,
        actor_type="user",
        actor_user=reviewer,
        from_status=S.REVIEW_REQUIRED,
        to_status=S.REVIEW_REQUIRED,
        resolution_method="resume",
        reason_code="other",
        note="   ",
        time_in_review=timedelta(minutes=5),
        created_at=timezone.now(),
    )
    written_past_the_services(row)

    printed = assert_named("resolution_row", row.pk, phase.pk)

    assert "without a note" in printed


def test_an_in_progress_phase_without_a_lease(scenario):
    working = scenario["working"]
    with constraints_off("phase_in_progress_has_lease"):
        WarmupPhase.objects.filter(pk=working.pk).update(lease_token=None)

        printed = assert_named("lease", working.pk)

    assert "in progress without a lease" in printed


def test_a_lease_left_outside_in_progress(scenario):
    retrying = scenario["retrying"]
    with constraints_off("phase_lease_only_in_progress"):
        WarmupPhase.objects.filter(pk=retrying.pk).update(
            lease_token=uuid.uuid4(), lease_expires_at=timezone.now()
        )

        printed = assert_named("lease", retrying.pk)

    assert "content_assigned but still holds a lease" in printed


def test_a_phase_whose_platform_is_not_its_accounts(scenario):
    working = scenario["working"]
    assert working.platform == working.account.platform  # copied at enrolment
    WarmupPhase.objects.filter(pk=working.pk).update(
        platform="tiktok" if working.platform != "tiktok" else "x"
    )

    printed = assert_named("platform", working.pk)

    assert f"its account {working.account_id} is on '{working.account.platform}'" in printed


def test_two_active_phases_of_one_account(scenario):
    # given: the unique index dropped (inside the test's transaction), a second phase made
    # available while the first waits for its retry
    account = scenario["retrying"].account
    second = account.phases.get(order=2)
    with connection.cursor() as cursor:
        cursor.execute('DROP INDEX "phase_one_active_per_account"')
    WarmupPhase.objects.filter(pk=second.pk).update(status=S.AVAILABLE, available_at=timezone.now())

    assert_named("one_active_phase", account.pk, second.pk)


def test_a_retry_count_no_attempt_explains(scenario):
    working = scenario["working"]
    WarmupPhase.objects.filter(pk=working.pk).update(retry_count=2)

    printed = assert_named("retry_count", working.pk)

    assert "no retried attempt" in printed


def test_a_retry_count_off_by_one_from_the_last_retried_attempt(scenario):
    retrying = scenario["retrying"]
    WarmupPhase.objects.filter(pk=retrying.pk).update(retry_count=2)

    printed = assert_named("retry_count", retrying.pk)

    assert "left it at 1" in printed


def test_a_reset_to_zero_without_a_resolution(scenario):
    retrying = scenario["retrying"]
    WarmupPhase.objects.filter(pk=retrying.pk).update(retry_count=0)

    assert_named("retry_count", retrying.pk)


def test_an_attempt_left_open_on_a_phase_no_longer_in_progress(scenario):
    # given: the bot's phase moved back to waiting without closing its attempt
    working = scenario["working"]
    attempt = PhaseAttempt.objects.get(phase=working, finished_at__isnull=True)
    WarmupPhase.objects.filter(pk=working.pk).update(
        status=S.CONTENT_ASSIGNED,
        lease_token=None,
        lease_expires_at=None,
        next_attempt_at=timezone.now(),
    )

    printed = assert_named("open_attempt", attempt.pk, working.pk)

    assert "content_assigned" in printed


def test_two_open_attempts_on_one_phase(scenario, bot):
    working = scenario["working"]
    extra = PhaseAttempt.objects.create(
        phase=working, number=99, bot=bot, lease_token=uuid.uuid4(), claimed_at=timezone.now()
    )

    assert_named("open_attempt", extra.pk, working.pk)
