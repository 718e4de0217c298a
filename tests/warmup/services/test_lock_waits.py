"""Row locks that must never make a bot, a reviewer or the scheduler wait (PostgreSQL, real
threads): a claim skips the row another claim holds, the scheduler locks only the content it
may use, every move locks only its own phases (never the account, plan step or bot rows it
reads beside them), and an undo reports busy what it finds held and holds nothing else.

A thread that would wait gives up after LOCK_TIMEOUT with a lock error instead, so a lost
SKIP LOCKED or a lock on the wrong rows fails the test at once rather than hanging it.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tests.builders import fail, reload
from tests.conftest import requires_postgres
from tests.factories import (
    AccountFactory,
    BotFactory,
    ContentItemFactory,
    WarmupPhaseFactory,
    new_item_in_review,
)
from tests.warmup.services.test_concurrency import THREAD_TIMEOUT, errors_of, run_together
from warmup.domain.errors import Refusal
from warmup.models import ContentItem, PhaseStatus, WarmupPhase
from warmup.services.bot_work import phase_claim, phase_heartbeat
from warmup.services.resolutions import (
    batch_undo_in_batches,
    review_resolve,
    reviews_resolve_in_batches,
)
from warmup.services.review import review_assign
from warmup.services.tick import tick

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_plan"),
]

LOCK_TIMEOUT = "5s"


def without_waiting(work):
    """Run `work()` in a transaction whose lock waits fail after LOCK_TIMEOUT."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        return work()


def holding_while(take_lock, done: threading.Event, held: threading.Event):
    """A thread's work: take a row lock in a transaction and keep it until `done` is set."""

    def hold():
        with transaction.atomic():
            result = take_lock()
            held.set()
            return result, done.wait(THREAD_TIMEOUT)

    return hold


def test_a_claim_skips_the_phase_another_claim_holds_instead_of_waiting(content_pool):
    first, second = AccountFactory.create_batch(2)
    tick()
    holder, claimer = BotFactory(), BotFactory()
    held, done = threading.Event(), threading.Event()

    def claim_meanwhile():
        held.wait(THREAD_TIMEOUT)
        try:
            return without_waiting(lambda: phase_claim(bot=claimer))
        finally:
            done.set()

    outcomes = run_together(
        holding_while(lambda: phase_claim(bot=holder), done, held), claim_meanwhile
    )

    # the second bot got the other phase while the first still held its claim open
    assert errors_of(outcomes) == []
    (held_phase, claimed_while_held), got = outcomes[0][0], outcomes[1][0]
    assert claimed_while_held is True
    assert {held_phase.account_id, got.account_id} == {first.pk, second.pk}
    assert WarmupPhase.objects.filter(status=PhaseStatus.IN_PROGRESS).count() == 2


def test_the_tick_does_not_wait_for_a_lock_on_inactive_content(account):
    # given an inactive item of the phase's type that someone is editing (its row locked)
    retired = ContentItemFactory(phase_type="profile_bio", is_active=False)

    def lock_retired():
        return ContentItem.objects.select_for_update().get(pk=retired.pk)

    report = run_while_held(lock_retired, tick)

    # then the tick assigned active content while the edit was still open
    assert report.assigned == 1
    phase = account.phases.get(order=1)
    assert phase.status == PhaseStatus.CONTENT_ASSIGNED and phase.content.is_active


# --- What a move locks: its own rows, never the rows it reads beside them ------------------
# An admin saving an account, a plan step or a bot holds that row (FOR NO KEY UPDATE, as an
# UPDATE does) until the save commits. A move reads those rows joined to the phases it locks
# (`select_related`), and must lock only the phases (`of=("self",)`): locking the joined rows
# too would make a bot's report, a reviewer's click or the scheduler wait on the admin.


def admin_saving(*rows):
    """A thread's lock: an admin's save of each row, open until released."""

    def lock():
        for row in rows:
            type(row).objects.select_for_update(no_key=True).get(pk=row.pk)
        return True

    return lock


def meanwhile(work, done: threading.Event, held: threading.Event):
    """A thread's work: once the other thread holds its lock, `work()` without waiting."""

    def run():
        held.wait(THREAD_TIMEOUT)
        try:
            return without_waiting(work)
        finally:
            done.set()

    return run


def run_while_held(lock, work):
    """`work()` while another thread holds `lock()`; its result, after asserting it came
    while the lock was still held and nothing failed."""
    held, done = threading.Event(), threading.Event()
    outcomes = run_together(holding_while(lock, done, held), meanwhile(work, done, held))
    assert errors_of(outcomes) == []
    assert outcomes[0][0][1] is True, "the work finished only after the lock was released"
    return outcomes[1][0]


def test_a_bots_reports_do_not_wait_for_an_admin_saving_its_account_or_plan_step(content_pool):
    bot = BotFactory()
    phase = WarmupPhaseFactory(in_progress=True, bot=bot)

    def report():
        phase_heartbeat(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
        return fail(phase, bot, "network_error")

    outcome = run_while_held(admin_saving(phase.account, phase.template, bot), report)

    assert outcome.phase.status == PhaseStatus.CONTENT_ASSIGNED  # retried with its content
    assert reload(phase).retry_count == 1


def test_a_resolution_does_not_wait_for_an_admin_saving_the_account_or_the_next_step(
    content_pool, reviewer_actor
):
    item = new_item_in_review(BotFactory())
    following = item.account.phases.get(order=item.order + 1)

    def complete():
        return review_resolve(
            phase_id=item.pk, method="complete", reason_code="other", note="done by hand",
            actor=reviewer_actor,
        )  # fmt: skip

    run_while_held(admin_saving(item.account, following.template), complete)

    assert reload(item).status == PhaseStatus.COMPLETED
    assert reload(following).status in {PhaseStatus.AVAILABLE, PhaseStatus.PENDING}
    assert reload(following).available_at is not None


def test_an_assignment_does_not_wait_for_an_admin_saving_the_account_or_plan_step(
    content_pool, reviewer, reviewer_actor
):
    item = new_item_in_review(BotFactory())

    def assign():
        return review_assign(phase_id=item.pk, assignee=reviewer, actor=reviewer_actor)

    run_while_held(admin_saving(item.account, item.template), assign)

    assert reload(item).review_assignee_id == reviewer.pk


def test_the_tick_does_not_wait_for_an_admin_saving_a_plan_step_an_account_or_a_bot(
    content_pool, traveller
):
    bot = BotFactory()
    hung = WarmupPhaseFactory(in_progress=True, bot=bot)  # its lease runs out below
    ready = WarmupPhaseFactory()  # available: the tick gives it content
    traveller.shift(hung.template.lease_duration + timedelta(minutes=1))

    report = run_while_held(
        admin_saving(ready.template, hung.template, hung.account, ready.account, bot), tick
    )

    assert (report.assigned, report.expired) == (1, 1)
    assert reload(ready).status == PhaseStatus.CONTENT_ASSIGNED
    assert reload(hung).last_failure_category == "lease_expired"


# --- An undo: what it finds held it reports busy, and it holds only its own rows ------------


def resolved_in_a_batch(item, actor):
    """Complete `item` (in review) in a batch, as the console's bulk action does; its id."""
    return reviews_resolve_in_batches(
        phase_ids=[item.pk], method="complete", reason_code="other", note="oops", actor=actor
    ).batch


def test_an_undo_reports_busy_at_once_a_next_step_a_bot_is_claiming(content_pool, reviewer_actor):
    item = new_item_in_review(BotFactory())
    batch = resolved_in_a_batch(item, reviewer_actor)
    following = item.account.phases.get(order=item.order + 1)

    def a_claim_in_flight():
        return WarmupPhase.objects.select_for_update().get(pk=following.pk)

    def undo():
        return batch_undo_in_batches(undo=batch, note="wrong call", actor=reviewer_actor)

    result = run_while_held(a_claim_in_flight, undo)

    assert result.changed == []
    assert result.unchanged[item.pk].refusal == Refusal.NEXT_BUSY
    assert reload(item).status == PhaseStatus.COMPLETED


def test_bots_claim_other_accounts_phases_while_an_undo_is_under_way(content_pool, reviewer_actor):
    item = new_item_in_review(BotFactory())
    batch = resolved_in_a_batch(item, reviewer_actor)
    other = AccountFactory()
    tick()  # the other account's first phase gets its content: claimable

    def undo_not_yet_committed():
        return batch_undo_in_batches(undo=batch, note="wrong call", actor=reviewer_actor)

    claimed = run_while_held(undo_not_yet_committed, lambda: phase_claim(bot=BotFactory()))

    assert claimed is not None and claimed.account_id == other.pk
    assert reload(item).status == PhaseStatus.REVIEW_REQUIRED  # the undo then committed


def test_an_undo_of_a_resume_does_not_look_at_the_next_step_someone_holds(
    content_pool, reviewer_actor
):
    item = new_item_in_review(BotFactory())
    batch = reviews_resolve_in_batches(
        phase_ids=[item.pk], method="resume", reason_code="other", note="oops", actor=reviewer_actor
    ).batch
    following = item.account.phases.get(order=item.order + 1)  # pending: a resume leaves it

    def the_tick_holding_it():
        return WarmupPhase.objects.select_for_update().get(pk=following.pk)

    def undo():
        return batch_undo_in_batches(undo=batch, note="wrong call", actor=reviewer_actor)

    result = run_while_held(the_tick_holding_it, undo)

    assert result.changed == [item.pk]
    assert reload(item).status == PhaseStatus.REVIEW_REQUIRED


def test_a_tick_locks_only_the_items_due_to_escalate_so_a_bulk_resolution_meanwhile_goes_through(
    content_pool, reviewer_actor
):
    bot = BotFactory()
    items = [new_item_in_review(bot) for _ in range(2)]  # just arrived: nothing to escalate

    def resume_both():
        return reviews_resolve_in_batches(
            phase_ids=[item.pk for item in items],
            method="resume",
            reason_code="other",
            note="fixed",
            actor=reviewer_actor,
        )

    result = run_while_held(tick, resume_both)  # the tick's transaction still open

    assert sorted(result.changed) == sorted(item.pk for item in items)
    assert result.unchanged == {}


def test_the_tick_skips_a_due_phase_someone_holds_and_unlocks_the_others(content_pool, traveller):
    held_back, free = WarmupPhaseFactory(pending=True), WarmupPhaseFactory(pending=True)
    traveller.shift(max(held_back.available_at, free.available_at) - timezone.now())
    traveller.shift(timedelta(minutes=1))  # both due now

    def another_tick_holding_it():
        return WarmupPhase.objects.select_for_update().get(pk=held_back.pk)

    report = run_while_held(another_tick_holding_it, tick)

    assert report.unlocked == 1
    assert reload(free).status != PhaseStatus.PENDING
    assert reload(held_back).status == PhaseStatus.PENDING  # the next tick takes it
