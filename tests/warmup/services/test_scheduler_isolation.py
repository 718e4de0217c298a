"""One row the scheduler cannot handle must not stop it for the rest of the fleet."""

from datetime import timedelta

import time_machine
from django.core import mail
from django.db import OperationalError
from django.utils import timezone

from reviews import events as review_events
from tests.builders import make_in_progress, make_review_required, reload
from tests.factories import AccountFactory, UserFactory
from warmup.models import PhaseStatus
from warmup.scheduler import tick
from warmup.services import phases
from warmup.services.phases import record_failures


def test_a_failing_row_is_logged_and_skipped_while_the_others_move_on(
    account, bot, other_bot, monkeypatch, caplog
):
    # given: two bots hold two phases; one phase hits a fault while its lease expires
    broken = make_in_progress(account, bot)
    healthy = make_in_progress(AccountFactory(), other_bot)

    def fault_for_one(failures, **kwargs):
        if any(failure.phase.pk == broken.pk for failure in failures):
            raise OperationalError("simulated fault")
        return record_failures(failures, **kwargs)

    # (the failure path both the batch and the row-by-row retry take)
    monkeypatch.setattr(phases, "record_failures", fault_for_one)

    # when: both leases have expired and the scheduler runs
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        report = tick()

    # then: the healthy phase was retried, the broken one left as it was, and the fault logged
    assert report.expired == 1
    assert reload(healthy).status == PhaseStatus.CONTENT_ASSIGNED
    assert reload(broken).status == PhaseStatus.IN_PROGRESS
    assert f"Expiring a lease failed for phase {broken.pk}" in caplog.text

    # and once the fault is gone, the next tick picks the broken phase up
    monkeypatch.setattr(phases, "record_failures", record_failures)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert tick().expired == 1
    assert reload(broken).status == PhaseStatus.CONTENT_ASSIGNED


def test_an_escalation_that_fails_for_one_item_still_raises_and_notifies_the_others(
    account, bot, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    # given: two items in review; logging the rise of one of them hits a fault
    UserFactory(reviewer=True, email="rita@example.com")
    broken = make_review_required(account, bot, category="challenge_required")
    healthy = make_review_required(AccountFactory(), bot, category="login_failed")
    log_row = review_events._escalation_row

    def fault_for_one(phase, level, at):
        if phase.pk == broken.pk:
            raise OperationalError("simulated fault")
        return log_row(phase, level, at)

    # (the row every escalation path writes, so the batch and the row-by-row retry both fail)
    monkeypatch.setattr(review_events, "_escalation_row", fault_for_one)

    # when: two hours later the tick raises levels
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        with django_capture_on_commit_callbacks(execute=True):
            report = tick()

    # then: the batch went through except that item, which waits for the next tick, logged;
    # one digest names the item that rose
    assert report.escalated == 1
    assert reload(healthy).escalation_level == 1
    assert reload(broken).escalation_level == 0
    assert f"Raising an escalation level failed for phase {broken.pk}" in caplog.text
    assert [m.subject for m in mail.outbox] == [
        "[warmup] 1 review item(s) escalated (up to level 1)"
    ]
