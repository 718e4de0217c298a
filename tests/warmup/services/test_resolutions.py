"""warmup.services.resolutions itself: a batch resolves what it may and says why it left the rest
(by refusal code), in a constant number of statements; one item is a batch of one that raises its
refusal; a bulk run is batches under one id; an undo puts a batch's items back in review as
they were, or says why not."""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews.models import ReviewLog
from tests.builders import first_phase, reload, stored
from tests.factories import (
    FIRST_STEP,
    AccountFactory,
    UserFactory,
    WarmupPhaseFactory,
    new_item_in_review,
    retried_then_escalated,
)
from warmup.domain.choices import RESOLUTION_ACTIONS, ReviewAction
from warmup.domain.errors import (
    CannotUndo,
    InvalidInput,
    InvalidTransition,
    NotClaimable,
    NotFound,
    Refusal,
)
from warmup.models import AccountStatus, CompletionMethod, PhaseStatus, WarmupPhase
from warmup.services.bot_work import phase_claim
from warmup.services.resolutions import (
    batch_items,
    batch_undo,
    batch_undo_in_batches,
    resolution_preview,
    review_resolve,
    reviews_resolve,
    reviews_resolve_in_batches,
)
from warmup.services.review import review_assign, review_hold
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db

S = PhaseStatus
WHY = {"reason_code": "replaced_proxy", "note": "New proxy for the pool."}
# Where each method takes an item in review (the product's rule, DESIGN.md's table).
TO_STATUS = {
    "resume": S.AVAILABLE,
    "retry": S.CONTENT_ASSIGNED,
    "complete": S.COMPLETED,
    "skip": S.COMPLETED,
}
METHODS = list(TO_STATUS)


def last_log_id() -> int:
    return ReviewLog.objects.aggregate(last=Max("pk"))["last"] or 0


def resolution_rows(since: int):
    actions = list(RESOLUTION_ACTIONS.values())
    return ReviewLog.objects.filter(pk__gt=since, action__in=actions).order_by("pk")


def held_without_content(actor) -> WarmupPhase:
    """A new account's first phase held by a reviewer before the scheduler gave it content."""
    phase = first_phase(AccountFactory())
    review_hold(phase_id=phase.pk, note="looks wrong", actor=actor)
    return reload(phase)


@pytest.fixture
def mixed(content_pool, bot, reviewer_actor):
    """Two items a batch may resolve, and one each refused for a reason of its own."""
    ok = [new_item_in_review(bot, "proxy_error") for _ in range(2)]
    suspended = new_item_in_review(bot, "account_suspended")
    assert suspended.account.status == AccountStatus.SUSPENDED
    done = new_item_in_review(bot)
    reviews_resolve(phase_ids=[done.pk], method="skip", actor=reviewer_actor, **WHY)
    held = held_without_content(reviewer_actor)
    missing = WarmupPhase.objects.aggregate(last=Max("pk"))["last"] + 1000
    return {"ok": ok, "suspended": suspended, "done": done, "held": held, "missing": missing}


def refusals(method, mixed) -> dict[int, str]:
    """What `method` must refuse in `mixed`, and why (the rules of the issue, by code)."""
    expected = {mixed["done"].pk: Refusal.NOT_IN_REVIEW, mixed["missing"]: Refusal.MISSING}
    if method in ("resume", "retry"):
        expected[mixed["suspended"].pk] = Refusal.ACCOUNT_NOT_ACTIVE
    if method == "retry":
        expected[mixed["held"].pk] = Refusal.NO_CONTENT
    return expected


# --- reviews_resolve -------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_a_batch_resolves_what_it_may_and_says_why_it_left_the_rest(
    mixed, reviewer, reviewer_actor, method, clock
):
    phases = [*mixed["ok"], mixed["suspended"], mixed["done"], mixed["held"]]
    ids = [p.pk for p in phases] + [mixed["missing"]]
    expected = refusals(method, mixed)
    untouched = {p.pk: stored(p) for p in phases if p.pk in expected}
    since = last_log_id()
    clock.shift(timedelta(minutes=20))

    result = reviews_resolve(phase_ids=ids, method=method, actor=reviewer_actor, **WHY)

    assert {pk: exc.refusal for pk, exc in result.unchanged.items()} == expected
    changed = [pk for pk in ids if pk not in expected]
    assert sorted(result.changed) == sorted(changed)
    assert {reload(p).status for p in phases if p.pk in changed} == {TO_STATUS[method]}
    assert {pk: stored(WarmupPhase(pk=pk)) for pk in untouched} == untouched
    rows = resolution_rows(since)
    assert sorted(r.phase_id for r in rows) == sorted(changed)
    by_phase = {p.pk: p for p in phases}
    for row in rows:
        was = by_phase[row.phase_id]
        assert (row.batch, row.resolution_method, row.actor_user) == (
            result.batch,
            method,
            reviewer,
        )
        assert (row.reason_code, row.note) == (WHY["reason_code"], WHY["note"])
        assert (row.from_status, row.to_status) == (S.REVIEW_REQUIRED, TO_STATUS[method])
        assert row.time_in_review == row.created_at - was.review_required_since
        assert (row.escalation_level, row.retry_count) == (was.escalation_level, was.retry_count)


def test_a_resolution_takes_the_item_out_of_review_as_its_method_says(
    content_pool, bot, reviewer, reviewer_actor, clock
):
    items = {m: new_item_in_review(bot) for m in METHODS}
    for item in items.values():
        review_assign(phase_id=item.pk, assignee=reviewer, actor=reviewer_actor)
    clock.shift(timedelta(hours=2))
    tick()

    for method, item in items.items():
        reviews_resolve(phase_ids=[item.pk], method=method, actor=reviewer_actor, **WHY)

    now = timezone.now()  # frozen
    after = {m: reload(p) for m, p in items.items()}
    for phase in after.values():  # out of review: no clock, level or assignee left
        assert (phase.review_required_since, phase.escalation_level) == (None, 0)
        assert (phase.review_assignee_id, phase.retry_count) == (None, 0)
    assert (after["resume"].content_id, after["resume"].available_at) == (None, now)
    assert after["retry"].content_id == items["retry"].content_id
    assert after["retry"].next_attempt_at == now
    assert after["complete"].completion_method == CompletionMethod.MANUAL
    assert after["skip"].completion_method == CompletionMethod.SKIPPED
    for method in ("complete", "skip"):
        assert after[method].completed_at == now
        following = WarmupPhase.objects.get(account=after[method].account, order=2)
        assert following.available_at is not None  # unlocked, after its step's delay


def test_a_batch_refuses_bad_input_before_it_touches_anything(mixed, reviewer_actor):
    ids = [p.pk for p in mixed["ok"]]
    since = last_log_id()

    for bad in (
        {"method": "snooze", **WHY},
        {"method": "resume", "reason_code": "because", "note": "x"},
        {"method": "resume", "reason_code": "other", "note": "   "},
    ):
        with pytest.raises(InvalidInput):
            reviews_resolve(phase_ids=ids, actor=reviewer_actor, **bad)

    assert {reload(p).status for p in mixed["ok"]} == {S.REVIEW_REQUIRED}
    assert last_log_id() == since


def moves_and_log_writes(queries) -> tuple[list[str], list[str]]:
    """Of the captured statements: the UPDATEs that move phases (set a status), and the
    writes of review log rows (an executemany shows as one "N times: INSERT"; PostgreSQL's
    COPY goes past Django's cursor and is not captured)."""
    phases, log = WarmupPhase._meta.db_table, ReviewLog._meta.db_table
    sql = [q["sql"] for q in queries]
    moves = [s for s in sql if s.startswith(f'UPDATE "{phases}" SET "status"')]
    writes = [s for s in sql if re.match(rf'(\d+ times: )?INSERT INTO "{log}"', s)]
    return moves, writes


@pytest.mark.parametrize("method", METHODS)
def test_a_preview_counts_what_the_batch_then_does_to_the_same_items(mixed, reviewer_actor, method):
    # given: a selection of items (their accounts' other phases are not selected)
    ids = [p.pk for p in (*mixed["ok"], mixed["suspended"], mixed["done"], mixed["held"])]

    # when: the confirmation page counts, then the batch runs
    preview = resolution_preview(ids, method)
    result = reviews_resolve(phase_ids=ids, method=method, actor=reviewer_actor, **WHY)

    # then: the page said what the batch did, to each of the selected items and no others
    refused = Counter(error.refusal for error in result.unchanged.values())
    assert preview == Counter({"resolved": len(result.changed)}) + refused
    assert preview.total() == len(ids)


@pytest.mark.parametrize("method", ["resume", "complete"])
def test_a_batch_costs_the_same_statements_for_3_or_30_items(
    content_pool, bot, reviewer_actor, method
):
    def resolve(items):
        since = last_log_id()
        with CaptureQueriesContext(connection) as captured:
            result = reviews_resolve(
                phase_ids=[p.pk for p in items], method=method, actor=reviewer_actor, **WHY
            )
        assert len(result.changed) == len(items)
        assert resolution_rows(since).count() == len(items)
        return captured.captured_queries

    items = [new_item_in_review(bot) for _ in range(33)]

    small, large = resolve(items[:3]), resolve(items[3:])

    assert len(large) == len(small)
    moves, writes = moves_and_log_writes(large)
    assert len(moves) == 1  # one starting status, one UPDATE
    assert len(writes) == (0 if connection.vendor == "postgresql" else 1)


# --- review_resolve: one item ----------------------------------------------------------------


@pytest.mark.parametrize(
    "method, which, error, refusal",
    [
        ("resume", "done", InvalidTransition, Refusal.NOT_IN_REVIEW),
        ("complete", "done", InvalidTransition, Refusal.NOT_IN_REVIEW),
        ("resume", "suspended", NotClaimable, Refusal.ACCOUNT_NOT_ACTIVE),
        ("retry", "suspended", NotClaimable, Refusal.ACCOUNT_NOT_ACTIVE),
        ("retry", "held", InvalidTransition, Refusal.NO_CONTENT),
        ("skip", "missing", NotFound, Refusal.MISSING),
    ],
)
def test_one_item_raises_the_refusal_and_writes_nothing(
    mixed, reviewer_actor, method, which, error, refusal
):
    item = mixed[which]
    pk = item if which == "missing" else item.pk
    before = None if which == "missing" else stored(item)
    since = last_log_id()

    with pytest.raises(error) as raised:
        review_resolve(phase_id=pk, method=method, actor=reviewer_actor, **WHY)

    assert raised.value.refusal == refusal
    assert last_log_id() == since
    if before is not None:
        assert stored(item) == before


def test_one_item_is_a_batch_of_one_and_comes_back_as_it_is_now(mixed, reviewer_actor):
    item = mixed["ok"][0]
    since = last_log_id()

    phase = review_resolve(phase_id=item.pk, method="retry", actor=reviewer_actor, **WHY)

    assert phase.pk == item.pk and phase.status == S.CONTENT_ASSIGNED
    assert stored(phase)["status"] == S.CONTENT_ASSIGNED
    (row,) = resolution_rows(since)
    assert row.phase_id == item.pk and row.batch is not None
    assert batch_items(row.batch) == [item.pk]


# --- reviews_resolve_in_batches: a bulk run
# ----------------------------------------------------------------


def test_a_bulk_run_goes_in_batches_of_its_size_under_one_batch_id(mixed, bot, reviewer_actor):
    items = [*mixed["ok"], *(new_item_in_review(bot) for _ in range(3))]
    ids = [p.pk for p in items]
    ids.insert(3, mixed["suspended"].pk)  # refused in the second batch
    since = last_log_id()

    with CaptureQueriesContext(connection) as captured:
        result = reviews_resolve_in_batches(
            phase_ids=ids, method="resume", actor=reviewer_actor, size=2, **WHY
        )

    assert result.changed == [p.pk for p in items]
    assert {pk: e.refusal for pk, e in result.unchanged.items()} == {
        mixed["suspended"].pk: Refusal.ACCOUNT_NOT_ACTIVE
    }
    assert [p.pk for p in result.moved] == result.changed
    rows = resolution_rows(since)
    assert {r.batch for r in rows} == {result.batch}
    assert sorted(r.phase_id for r in rows) == sorted(result.changed)
    moves, _ = moves_and_log_writes(captured.captured_queries)
    # one UPDATE per batch of 2: the refused item takes a place in its batch
    assert len(moves) == math.ceil(len(ids) / 2)
    assert batch_items(result.batch) == [r.phase_id for r in rows]


def test_a_bulk_run_takes_the_batch_id_it_is_given(mixed, reviewer_actor):
    batch = uuid.uuid4()

    result = reviews_resolve_in_batches(
        phase_ids=[p.pk for p in mixed["ok"]],
        method="skip",
        actor=reviewer_actor,
        batch=batch,
        size=1,
        **WHY,
    )

    assert result.batch == batch
    assert sorted(batch_items(batch)) == sorted(p.pk for p in mixed["ok"])


# --- Undo ----------------------------------------------------------------------------------

REVIEW_FIELDS = (
    "status",
    "review_required_since",
    "escalation_level",
    "retry_count",
    "review_assignee_id",
    "content_id",
    "completed_at",
    "completion_method",
)


def review_fields(phase) -> dict:
    return WarmupPhase.objects.filter(pk=phase.pk).values(*REVIEW_FIELDS).get()


def undo(batch, actor, ids=None):
    return batch_undo(
        undo=batch,
        phase_ids=batch_items(batch) if ids is None else ids,
        note="wrong call",
        actor=actor,
        batch=uuid.uuid4(),
    )


@pytest.mark.parametrize("method", METHODS)
def test_undo_gives_back_what_the_item_had_in_review(
    content_pool, bot, reviewer, reviewer_actor, clock, method
):
    # given: an item with a level, a retry count, an assignee and content, resolved
    item = retried_then_escalated(bot, clock)
    review_assign(phase_id=item.pk, assignee=reviewer, actor=reviewer_actor)
    clock.shift(timedelta(hours=2))
    tick()
    before = review_fields(item)
    assert before["escalation_level"] > 0 and before["retry_count"] > 0
    assert before["content_id"] is not None
    result = reviews_resolve(phase_ids=[item.pk], method=method, actor=reviewer_actor, **WHY)
    clock.shift(timedelta(minutes=10))
    tick()  # a resumed item gets content again; a completed one's next step waits
    assert review_fields(item) != before
    resolved_to = reload(item).status

    # when
    undone = undo(result.batch, reviewer_actor)

    # then
    assert undone.changed == [item.pk] and not undone.unchanged
    assert review_fields(item) == before
    row = ReviewLog.objects.get(batch=undone.batch)
    assert row.action == ReviewAction.RESOLUTION_UNDONE
    assert (row.from_status, row.to_status) == (resolved_to, S.REVIEW_REQUIRED)
    assert row.data["undoes_batch"] == str(result.batch)
    if method in ("complete", "skip"):
        following = WarmupPhase.objects.get(account_id=item.account_id, order=item.order + 1)
        assert (following.status, following.available_at) == (S.PENDING, None)


def test_undoing_a_bulk_run_two_at_a_time_puts_every_item_back_under_one_new_batch_id(
    mixed, bot, reviewer_actor
):
    # given: a bulk run that resumed three items
    items = [*mixed["ok"], new_item_in_review(bot)]
    done = reviews_resolve_in_batches(
        phase_ids=[p.pk for p in items], method="resume", actor=reviewer_actor, **WHY
    )

    # when: the console undoes the whole run, two items at a time
    undone = batch_undo_in_batches(undo=done.batch, note="wrong call", actor=reviewer_actor, size=2)

    # then: every item is back in review, under one batch id of the undo's own
    assert sorted(undone.changed) == sorted(p.pk for p in items) and not undone.unchanged
    assert undone.batch not in (None, done.batch)
    rows = ReviewLog.objects.filter(batch=undone.batch)
    assert sorted(row.phase_id for row in rows) == sorted(undone.changed)
    assert {row.action for row in rows} == {ReviewAction.RESOLUTION_UNDONE}
    assert {reload(p).status for p in items} == {S.REVIEW_REQUIRED}


def test_undoing_a_completion_locks_again_only_its_own_next_step(content_pool, bot, reviewer_actor):
    # given: another account's second step waiting for its delay, and an item completed
    waiting = WarmupPhaseFactory(pending=True)
    assert stored(waiting)["available_at"] is not None
    item = new_item_in_review(bot)
    result = reviews_resolve(phase_ids=[item.pk], method="complete", actor=reviewer_actor, **WHY)
    before = stored(waiting)

    # when
    undone = undo(result.batch, reviewer_actor)

    # then: the item's next step is pending again with no time; the other one keeps its time
    assert undone.changed == [item.pk]
    following = WarmupPhase.objects.get(account_id=item.account_id, order=item.order + 1)
    assert (following.status, following.available_at) == (S.PENDING, None)
    assert stored(waiting) == before


def test_undo_leaves_an_assignee_who_may_no_longer_resolve_out(content_pool, bot, reviewer_actor):
    gone = UserFactory(reviewer=True)
    item = new_item_in_review(bot)
    review_assign(phase_id=item.pk, assignee=gone, actor=reviewer_actor)
    result = reviews_resolve(phase_ids=[item.pk], method="retry", actor=reviewer_actor, **WHY)
    gone.groups.clear()

    undo(result.batch, reviewer_actor)

    assert reload(item).status == S.REVIEW_REQUIRED
    assert reload(item).review_assignee_id is None


def claimed_since(item, bot, clock, reviewer_actor):
    clock.shift(timedelta(seconds=1))
    claimed = phase_claim(bot=bot, phase_types=[FIRST_STEP])
    assert claimed.pk == item.pk


def back_in_review(item, bot, clock, reviewer_actor):
    review_hold(phase_id=item.pk, note="not fixed after all", actor=reviewer_actor)


def acted_on_since(item, bot, clock, reviewer_actor):
    back_in_review(item, bot, clock, reviewer_actor)
    reviews_resolve(phase_ids=[item.pk], method="retry", actor=reviewer_actor, **WHY)


def claimed_at_the_same_instant(item, bot, clock, reviewer_actor):
    """A claim the undo cannot date after the resolution (the same instant: the clock is
    frozen): the phase has still moved on from where the resolution left it."""
    claimed = phase_claim(bot=bot, phase_types=[FIRST_STEP])
    assert claimed.pk == item.pk


def next_step_claimed(item, bot, clock, reviewer_actor):
    clock.shift(timedelta(days=2))
    tick()
    claimed = phase_claim(bot=bot)
    assert claimed.account_id == item.account_id and claimed.order == item.order + 1


def next_step_held(item, bot, clock, reviewer_actor):
    following = WarmupPhase.objects.get(account_id=item.account_id, order=item.order + 1)
    clock.shift(timedelta(days=2))
    tick()
    review_hold(phase_id=following.pk, note="wait", actor=reviewer_actor)


def next_step_held_and_resumed(item, bot, clock, reviewer_actor):
    """The next step went to review and out again: back where the completion left it, but a
    reviewer acted on it since."""
    next_step_held(item, bot, clock, reviewer_actor)
    following = WarmupPhase.objects.get(account_id=item.account_id, order=item.order + 1)
    reviews_resolve(phase_ids=[following.pk], method="resume", actor=reviewer_actor, **WHY)
    assert reload(following).status == S.AVAILABLE


@pytest.mark.parametrize(
    "method, since, refusal",
    [
        ("retry", claimed_since, Refusal.CLAIMED_SINCE),
        ("resume", back_in_review, Refusal.IN_REVIEW_AGAIN),
        ("retry", acted_on_since, Refusal.ACTED_SINCE),
        ("retry", claimed_at_the_same_instant, Refusal.MOVED_ON),
        ("complete", next_step_claimed, Refusal.NEXT_CLAIMED),
        ("skip", next_step_held, Refusal.NEXT_MOVED_ON),
        ("complete", next_step_held_and_resumed, Refusal.NEXT_MOVED_ON),
    ],
)
def test_undo_leaves_an_item_that_went_on_and_says_why(
    content_pool, bot, reviewer_actor, clock, method, since, refusal
):
    # given: two items resolved in one batch; one went on since
    went_on, other = new_item_in_review(bot), new_item_in_review(bot)
    result = reviews_resolve(
        phase_ids=[went_on.pk, other.pk], method=method, actor=reviewer_actor, **WHY
    )
    since(went_on, bot, clock, reviewer_actor)
    then = stored(went_on)

    # when
    undone = undo(result.batch, reviewer_actor)

    # then: the other is back in review; this one is left, with the code saying why
    assert undone.changed == [other.pk]
    assert list(undone.unchanged) == [went_on.pk]
    assert isinstance(undone.unchanged[went_on.pk], CannotUndo)
    assert undone.unchanged[went_on.pk].refusal == refusal
    assert stored(went_on) == then
    assert reload(other).status == S.REVIEW_REQUIRED


def test_undo_leaves_what_the_batch_did_not_resolve(mixed, reviewer_actor):
    resolved, stranger = mixed["ok"]
    result = reviews_resolve(phase_ids=[resolved.pk], method="resume", actor=reviewer_actor, **WHY)
    reviews_resolve(phase_ids=[stranger.pk], method="resume", actor=reviewer_actor, **WHY)

    undone = undo(result.batch, reviewer_actor, ids=[resolved.pk, stranger.pk])

    assert undone.changed == [resolved.pk]
    assert undone.unchanged[stranger.pk].refusal == Refusal.NOT_IN_BATCH
    assert reload(stranger).status == S.AVAILABLE


def test_undo_of_none_of_the_batchs_items_changes_nothing_and_says_why(mixed, reviewer_actor):
    resolved, stranger = mixed["ok"]
    result = reviews_resolve(phase_ids=[resolved.pk], method="resume", actor=reviewer_actor, **WHY)
    reviews_resolve(phase_ids=[stranger.pk], method="resume", actor=reviewer_actor, **WHY)
    since = last_log_id()

    undone = undo(result.batch, reviewer_actor, ids=[stranger.pk, mixed["missing"]])

    assert undone.changed == []
    assert {pk: error.refusal for pk, error in undone.unchanged.items()} == {
        stranger.pk: Refusal.NOT_IN_BATCH,
        mixed["missing"]: Refusal.MISSING,
    }
    assert {reload(resolved).status, reload(stranger).status} == {S.AVAILABLE}
    assert last_log_id() == since


def test_undo_needs_a_note(mixed, reviewer_actor):
    result = reviews_resolve(
        phase_ids=[mixed["ok"][0].pk], method="resume", actor=reviewer_actor, **WHY
    )

    with pytest.raises(InvalidInput):
        batch_undo(
            undo=result.batch,
            phase_ids=batch_items(result.batch),
            note=" ",
            actor=reviewer_actor,
            batch=uuid.uuid4(),
        )

    assert reload(mixed["ok"][0]).status == S.AVAILABLE


# --- batch_items -----------------------------------------------------------------------


def test_batch_resolutions_are_the_phases_a_batch_resolved_oldest_first(
    mixed, bot, reviewer_actor, clock
):
    first, second = mixed["ok"]
    third = new_item_in_review(bot)
    batch = uuid.uuid4()
    reviews_resolve(phase_ids=[second.pk], method="skip", actor=reviewer_actor, batch=batch, **WHY)
    clock.shift(timedelta(minutes=1))
    reviews_resolve(
        phase_ids=[first.pk, mixed["done"].pk],
        method="skip",
        actor=reviewer_actor,
        batch=batch,
        **WHY,
    )
    other = reviews_resolve(phase_ids=[third.pk], method="skip", actor=reviewer_actor, **WHY)

    assert batch_items(batch) == [second.pk, first.pk]  # not what it refused
    assert batch_items(other.batch) == [third.pk]
    assert batch_items(uuid.uuid4()) == []
    undone = undo(batch, reviewer_actor)
    assert batch_items(undone.batch) == []  # an undo resolves nothing
