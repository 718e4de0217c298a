"""The demo's stories happened in the past and in order: for every item, each attempt was claimed
before it ended, a failure sent it to review after its attempt ended, every review-log row of
it follows the one before, an expired lease expired while its attempt ran, and nothing is in
the future; the review log spreads over the days the items waited (issue #18)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from reviews.models import ReviewLog
from tests.warmup.commands.conftest import run
from warmup.domain.choices import ENTERS_REVIEW, FailureDecision, ReviewAction
from warmup.models import Account, PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.selectors.integrity import CHECKS, check_integrity

pytestmark = pytest.mark.django_db

EXPIRED_AT = re.compile(r"expired at (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC")


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """One `seed_demo` run (with the admin and role users), rolled back after the module."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            run("seed_demo", "--with-admin")
            yield timezone.now()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def story_phases():
    """Every phase of every demo account: the scripted stories and the fast plan's."""
    return WarmupPhase.objects.select_related("account").order_by("account_id", "order")


def test_every_attempt_was_claimed_before_it_ended_and_after_the_one_before(seeded):
    checked = 0
    for phase in story_phases():
        attempts = list(PhaseAttempt.objects.filter(phase=phase).order_by("number"))
        previous = None
        for attempt in attempts:
            where = (str(phase), attempt.number)
            assert phase.account.created_at <= attempt.claimed_at <= seeded, where
            if attempt.finished_at is not None:
                assert attempt.claimed_at <= attempt.finished_at <= seeded, where
            if previous is not None:
                assert previous.finished_at <= attempt.claimed_at, where
                if previous.next_attempt_at is not None:
                    # a retry is not claimed before the time its failure gave it
                    assert previous.next_attempt_at <= attempt.claimed_at, where
            match = EXPIRED_AT.search(attempt.reason)
            if match:
                # what the reviewer reads: the lease expired while the attempt ran
                expired = datetime.strptime(match[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
                assert attempt.claimed_at - timedelta(minutes=1) <= expired, where
                assert expired <= attempt.finished_at, where
            previous = attempt
            checked += 1
        if phase.completed_at is not None and attempts:
            assert attempts[-1].finished_at <= phase.completed_at <= seeded, str(phase)
    assert checked > 50


def test_every_item_entered_review_after_its_attempt_ended_and_its_log_follows_in_order(seeded):
    items = 0
    for phase in story_phases():
        rows = list(ReviewLog.objects.filter(phase=phase).order_by("id"))
        attempts = list(PhaseAttempt.objects.filter(phase=phase).order_by("number"))
        where = str(phase)
        # every row after the one before it, none in the future
        times = [row.created_at for row in rows]
        assert times == sorted(times), (where, [(r.action, r.created_at) for r in rows])
        assert all(phase.account.created_at <= t <= seeded for t in times), where
        # each failure sent to review: its log row after the attempt ended
        escalating = [a for a in attempts if a.decision == FailureDecision.REVIEW_REQUIRED]
        escalated = [r for r in rows if r.action == ReviewAction.ESCALATED]
        assert len(escalating) == len(escalated), where
        for attempt, row in zip(escalating, escalated, strict=True):
            assert attempt.claimed_at <= attempt.finished_at <= row.created_at, where
        if phase.status == PhaseStatus.REVIEW_REQUIRED:
            items += 1
            since = phase.review_required_since
            assert all(a.finished_at <= since for a in attempts), where
            entered = [r for r in rows if r.action in ENTERS_REVIEW][-1]
            assert entered.created_at <= since + timedelta(seconds=1), where
            assert all(since <= r.created_at for r in rows[rows.index(entered) :]), where
            assert since <= seeded
    assert items >= 6


def test_account_rows_and_phases_happened_after_the_account_was_enrolled(seeded):
    for account in Account.objects.all():
        rows = ReviewLog.objects.filter(account=account, phase=None).order_by("id")
        times = [row.created_at for row in rows]
        assert times == sorted(times), str(account)
        assert all(account.created_at <= t <= seeded for t in times), str(account)
        if account.status_changed_at is not None:
            assert account.created_at <= account.status_changed_at <= seeded, str(account)


def test_the_review_log_spreads_over_the_days_the_items_waited(seeded):
    days = {
        timezone.localtime(t).date() for t in ReviewLog.objects.values_list("created_at", flat=True)
    }
    oldest_in_review = min(
        WarmupPhase.objects.filter(status=PhaseStatus.REVIEW_REQUIRED).values_list(
            "review_required_since", flat=True
        )
    )

    assert seeded - oldest_in_review > timedelta(days=2)
    assert len(days) >= 3


def test_the_demo_passes_the_integrity_checks_its_hash_chains_included(seeded):
    # Checkpoints are the scheduler's to write; a fresh demo has none yet.
    violations = check_integrity(only=[name for name in CHECKS if name != "checkpoint"])

    assert [str(v) for v in violations] == []
