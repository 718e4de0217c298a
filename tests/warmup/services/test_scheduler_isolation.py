"""One row the scheduler cannot handle must not stop it for the rest of the fleet."""

from dataclasses import dataclass
from datetime import timedelta

import time_machine
from django.core import mail
from django.db import OperationalError, transaction
from django.utils import timezone

from reviews.models import ReviewLog
from tests.builders import first_phase, reload
from tests.factories import AccountFactory, UserFactory, WarmupPhaseFactory
from warmup.lifecycle import review_log
from warmup.models import (
    AttemptOutcome,
    ContentItem,
    FailureCategory,
    PhaseAttempt,
    PhaseStatus,
    WarmupPhase,
)
from warmup.services import bot_work, progression, review
from warmup.services.bot_work import failures_record
from warmup.services.progression import (
    AssignReport,
    leases_expire_due,
    phases_assign_content,
    phases_unlock_due,
)
from warmup.services.review import reviews_escalate_due
from warmup.services.tick import tick


def test_a_failing_row_is_logged_and_skipped_while_the_others_move_on(
    account, bot, other_bot, monkeypatch, caplog
):
    # given: two bots hold two phases; one phase hits a fault while its lease expires
    broken = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    healthy = WarmupPhaseFactory(account=AccountFactory(), bot=other_bot, in_progress=True)

    def fault_for_one(failures, **kwargs):
        if any(failure.phase.pk == broken.pk for failure in failures):
            raise OperationalError("simulated fault")
        return failures_record(failures, **kwargs)

    # (the failure path both the batch and the row-by-row retry take)
    monkeypatch.setattr(bot_work, "failures_record", fault_for_one)

    # when: both leases have expired and the scheduler runs
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        report = tick()

    # then: the healthy phase was retried, the broken one left as it was, and the fault logged
    assert report.expired == 1
    assert reload(healthy).status == PhaseStatus.CONTENT_ASSIGNED
    assert reload(broken).status == PhaseStatus.IN_PROGRESS
    assert f"Expiring a lease failed for phase {broken.pk}" in caplog.text

    # and once the fault is gone, the next tick picks the broken phase up
    monkeypatch.setattr(bot_work, "failures_record", failures_record)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert tick().expired == 1
    assert reload(broken).status == PhaseStatus.CONTENT_ASSIGNED


def test_an_escalation_that_fails_for_one_item_still_raises_and_notifies_the_others(
    account, bot, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    # given: two items in review; logging the rise of one of them hits a fault
    UserFactory(reviewer=True, email="rita@example.com")
    broken = WarmupPhaseFactory(
        account=account, bot=bot, in_review=True, category="challenge_required"
    )
    healthy = WarmupPhaseFactory(
        account=AccountFactory(), bot=bot, in_review=True, category="login_failed"
    )
    log_row = review_log._escalation_values

    def fault_for_one(phase, level, at):
        if phase.pk == broken.pk:
            raise OperationalError("simulated fault")
        return log_row(phase, level, at)

    # (the row every escalation path writes, so the batch and the row-by-row retry both fail)
    monkeypatch.setattr(review_log, "_escalation_values", fault_for_one)

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


# --- A failed batch goes on one row at a time, through the same set-based function -----------


@dataclass
class StepRun:
    report: object  # what the step returned
    calls: list[list[int]]  # the phase ids of each call of the step's set-based function
    written: dict  # the rows the step may write, read before the rollback


def written(phase_ids: list[int]) -> dict:
    """What a step may write about these phases: the phases, their attempts and log rows, and
    the content pool's use counts (log rows without their ids, which differ between runs)."""
    log = ReviewLog.objects.filter(phase_id__in=phase_ids).order_by("pk").values()
    return {
        "phases": list(WarmupPhase.objects.filter(pk__in=phase_ids).order_by("pk").values()),
        "attempts": list(
            PhaseAttempt.objects.filter(phase_id__in=phase_ids).order_by("pk").values()
        ),
        "log": [{k: v for k, v in row.items() if k != "id"} for row in log],
        "content": list(ContentItem.objects.order_by("pk").values("pk", "times_used")),
    }


def run_step(monkeypatch, module, name, step, *, phases, broken, fault) -> StepRun:
    """Run `step()` in a savepoint rolled back afterwards, its set-based function `module.name`
    wrapped: each call's phases are recorded, and a call that includes `broken` either writes
    and then fails with a database error (fault="raise") or leaves `broken` out (fault="skip":
    what one batch of the other rows writes)."""
    real, calls = getattr(module, name), []

    def wrapped(rows, **kwargs):
        ids = [row.pk for row in rows]
        calls.append(ids)
        if broken.pk in ids and fault == "skip":
            return real([row for row in rows if row.pk != broken.pk], **kwargs)
        result = real(rows, **kwargs)
        if broken.pk in ids:
            raise OperationalError("simulated fault")
        return result

    with transaction.atomic(), monkeypatch.context() as patch:
        patch.setattr(module, name, wrapped)
        report = step()
        run = StepRun(report, calls, written([phase.pk for phase in phases]))
        transaction.set_rollback(True)
    return run


def check_fallback(monkeypatch, caplog, module, name, step, *, phases, broken, what):
    """The step with one failing row in a batch: the batch fails and its rows go one at a time
    through the same set-based function; the others are written exactly as one batch of them
    writes them. Returns that run."""
    ids = sorted(phase.pk for phase in phases)
    batch = run_step(monkeypatch, module, name, step, phases=phases, broken=broken, fault="skip")
    caplog.clear()
    fallback = run_step(
        monkeypatch, module, name, step, phases=phases, broken=broken, fault="raise"
    )

    # the batch was one call; the fallback's batch failed, then each row went alone
    assert [sorted(call) for call in batch.calls] == [ids]
    assert sorted(fallback.calls[0]) == ids
    assert fallback.calls[1:] == [[pk] for pk in ids]
    assert f"{what} failed for phase {broken.pk}; left for the next tick" in caplog.text

    # what the rows came to, one at a time, is what the batch of the others wrote
    assert fallback.report == batch.report
    assert fallback.written == batch.written
    return fallback


def status_of(run: StepRun, phase) -> str:
    return next(row["status"] for row in run.written["phases"] if row["id"] == phase.pk)


def test_unlocking_a_batch_with_a_failing_row_unlocks_the_others_one_at_a_time(
    bot, content_pool, clock, monkeypatch, caplog
):
    # given: three accounts whose second phase is due to unlock
    phases = [WarmupPhaseFactory(account=AccountFactory(), bot=bot, pending=True) for _ in range(3)]
    broken = phases[1]
    clock.shift(timedelta(days=3))

    # when: unlocking fails for the batch because of one row
    run = check_fallback(
        monkeypatch,
        caplog,
        progression,
        "_unlock",
        lambda: phases_unlock_due(now=timezone.now()),
        phases=phases,
        broken=broken,
        what="Unlocking",
    )

    # then: the others are available, the broken row still pending
    assert run.report == len(phases) - 1
    assert {status_of(run, p) for p in phases if p != broken} == {PhaseStatus.AVAILABLE}
    assert status_of(run, broken) == PhaseStatus.PENDING


def test_assigning_content_to_a_batch_with_a_failing_row_serves_the_others_one_at_a_time(
    content_pool, clock, monkeypatch, caplog
):
    # given: three new accounts whose first phase waits for content from a pool of two items
    phases = [WarmupPhaseFactory(account=AccountFactory()) for _ in range(3)]
    broken = phases[1]

    # when: assigning fails for the batch because of one row
    run = check_fallback(
        monkeypatch,
        caplog,
        progression,
        "_assign",
        lambda: phases_assign_content(now=timezone.now()),
        phases=phases,
        broken=broken,
        what="Assigning content",
    )

    # then: the others got the two least-used items, one each; the broken row drew nothing
    assert run.report == AssignReport(assigned=len(phases) - 1, starved=0)
    drawn = [row["content_id"] for row in run.written["phases"] if row["id"] != broken.pk]
    pool = [item.pk for item in content_pool if item.phase_type == broken.phase_type]
    assert sorted(drawn) == sorted(pool)
    assert status_of(run, broken) == PhaseStatus.AVAILABLE


def test_a_failed_batch_goes_on_with_its_own_rows_only(db, monkeypatch, settings):
    # given: three starved phases (no content at all), two to a batch, the first one broken
    settings.WARMUP_TICK_BATCH_SIZE = 2
    phases = [first_phase(AccountFactory()) for _ in range(3)]
    broken = phases[0]

    # when: assigning fails for the first batch
    run = run_step(
        monkeypatch,
        progression,
        "_assign",
        lambda: phases_assign_content(now=timezone.now()),
        phases=phases,
        broken=broken,
        fault="raise",
    )

    # then: that batch's two rows went alone, the third came in the next batch, and each of
    # the two that did not fail is counted starved once
    first, second, third = (phase.pk for phase in phases)
    assert run.calls == [[first, second], [first], [second], [third]]
    assert run.report == AssignReport(assigned=0, starved=2)


def test_expiring_a_batch_of_leases_with_a_failing_row_expires_the_others_one_at_a_time(
    content_pool, bot, clock, monkeypatch, caplog, settings
):
    # given: three leases that have run out (retried without jitter: the same delay each run)
    expiry = settings.WARMUP_RETRY_POLICY[FailureCategory.LEASE_EXPIRED]
    settings.WARMUP_RETRY_POLICY = {
        **settings.WARMUP_RETRY_POLICY,
        FailureCategory.LEASE_EXPIRED: {**expiry, "jitter": 0.0},
    }
    phases = [
        WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_progress=True) for _ in range(3)
    ]
    broken = phases[1]
    clock.shift(timedelta(hours=1))

    # when: expiring fails for the batch because of one row
    run = check_fallback(
        monkeypatch,
        caplog,
        progression,
        "_expire",
        lambda: leases_expire_due(now=timezone.now()),
        phases=phases,
        broken=broken,
        what="Expiring a lease",
    )

    # then: the others are scheduled for a retry with their attempts closed; the broken one
    # is still held
    assert run.report == len(phases) - 1
    assert {status_of(run, p) for p in phases if p != broken} == {PhaseStatus.CONTENT_ASSIGNED}
    outcomes = {row["phase_id"]: row["outcome"] for row in run.written["attempts"]}
    assert outcomes == {p.pk: AttemptOutcome.LEASE_EXPIRED for p in phases if p != broken} | {
        broken.pk: ""
    }
    assert status_of(run, broken) == PhaseStatus.IN_PROGRESS


def test_escalating_a_batch_with_a_failing_row_raises_the_others_one_at_a_time(
    content_pool, bot, clock, monkeypatch, caplog
):
    # given: three items two hours in review (past the first threshold)
    phases = [
        WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True) for _ in range(3)
    ]
    broken = phases[1]
    clock.shift(timedelta(hours=2))

    # when: raising their levels fails for the batch because of one row
    run = check_fallback(
        monkeypatch,
        caplog,
        review,
        "_raise_levels",
        lambda: reviews_escalate_due(now=timezone.now()),
        phases=phases,
        broken=broken,
        what="Raising an escalation level",
    )

    # then: the others rose to level 1, each with its log row; the broken one did not
    assert run.report == len(phases) - 1
    levels = {row["id"]: row["escalation_level"] for row in run.written["phases"]}
    assert levels == {p.pk: 1 for p in phases if p != broken} | {broken.pk: 0}
    raised = [row["phase_id"] for row in run.written["log"] if row["action"] == "escalation_raised"]
    assert sorted(raised) == sorted(p.pk for p in phases if p != broken)
