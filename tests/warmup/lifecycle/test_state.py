"""The status machine: every (from, to) pair of the six statuses, then each allowed move through
the service that makes it, and the services' refusals from the wrong status."""

import copy
import inspect
import logging
import uuid
from datetime import timedelta
from itertools import product
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from tests.builders import fail, first_phase, reload, stored
from tests.factories import AccountFactory, BotFactory, WarmupPhaseFactory, new_item_in_review
from tests.incidents import dead_proxy_breaker
from tests.resolved import resolved_then_undone
from warmup.domain.choices import BreakerState, ReasonCode
from warmup.domain.errors import (
    LEASE_STALE,
    NOT_IN_REVIEW,
    TRANSITION_NOT_ALLOWED,
    TRANSITION_RACED,
    InvalidTransition,
    LeaseLost,
    NotFound,
)
from warmup.lifecycle import state
from warmup.lifecycle.state import (
    TRANSITIONS,
    UNDO_TRANSITIONS,
    Column,
    Condition,
    Either,
    Given,
    NoneOf,
    apply_transition,
    check_transition,
    is_allowed,
)
from warmup.models import (
    AttemptOutcome,
    Breaker,
    CompletionMethod,
    ContentItem,
    PhaseAttempt,
    PhaseStatus,
    PhaseTemplate,
    WarmupPhase,
    WarmupPlan,
)
from warmup.services.bot_work import (
    phase_claim,
    phase_complete,
    phase_fail,
    phase_heartbeat,
)
from warmup.services.progression import phases_assign_content, phases_unlock_due
from warmup.services.resolutions import (
    batch_undo_in_batches,
    review_complete,
    review_resume,
    review_retry,
    review_skip,
    reviews_resolve_in_batches,
)
from warmup.services.review import review_hold
from warmup.services.tick import tick

S = PhaseStatus

# The table of DESIGN.md, written out again so a change to warmup.lifecycle.state is a visible
# decision.
DESIGN_MOVES = {
    (S.PENDING, S.AVAILABLE),
    (S.AVAILABLE, S.CONTENT_ASSIGNED),
    (S.CONTENT_ASSIGNED, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.COMPLETED),
    (S.IN_PROGRESS, S.CONTENT_ASSIGNED),
    (S.IN_PROGRESS, S.REVIEW_REQUIRED),
    (S.REVIEW_REQUIRED, S.AVAILABLE),
    (S.REVIEW_REQUIRED, S.CONTENT_ASSIGNED),
    (S.REVIEW_REQUIRED, S.COMPLETED),
    (S.AVAILABLE, S.REVIEW_REQUIRED),
    (S.CONTENT_ASSIGNED, S.REVIEW_REQUIRED),
}
ALL_PAIRS = list(product(S.values, S.values))
ALLOWED = [pair for pair in ALL_PAIRS if pair in TRANSITIONS]
FORBIDDEN = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]
NOTE = "Checked the account by hand."


def pair_id(pair):
    return f"{pair[0]}->{pair[1]}"


# Each move of TRANSITIONS, by its name, made through its function in warmup.lifecycle.state. A new
# name in the table fails test_every_move_of_the_table_has_its_function_here until it is added.
MOVE_FUNCTIONS = {
    "unlock": lambda phase, now, bot: state.unlock_many([phase], available_at=now),
    "assign_content": lambda phase, now, bot: state.assign_contents(
        [phase], contents={phase.pk: None}, now=now
    ),
    "claim": lambda phase, now, bot: _call(
        state.take_lease,
        phase,
        bot=bot,
        lease_token=uuid.uuid4(),
        now=now,
        expires_at=now + phase.template.lease_duration,
    ),
    "complete": lambda phase, now, bot: state.release_lease(
        phase, S.COMPLETED, **state.completion(now=now, method=CompletionMethod.BOT)
    ),
    "retry": lambda phase, now, bot: state.release_lease(
        phase, S.CONTENT_ASSIGNED, next_attempt_at=now
    ),
    "escalate_or_hold": lambda phase, now, bot: state.enter_review_many(
        [phase], now=now, per_row={}
    ),
    "hold": lambda phase, now, bot: state.enter_review_many([phase], now=now, per_row={}),
    "review_resume": lambda phase, now, bot: state.leave_review_many(
        [phase], S.AVAILABLE, available_at=now
    ),
    "review_retry": lambda phase, now, bot: state.leave_review_many(
        [phase], S.CONTENT_ASSIGNED, next_attempt_at=now
    ),
    "review_complete": lambda phase, now, bot: state.leave_review_many(
        [phase], S.COMPLETED, **state.completion(now=now, method=CompletionMethod.MANUAL)
    ),
}


def into_pending(phase, now, bot):
    """Nothing of the machine moves a phase back to pending; only an undo does."""
    return state.relock_many([phase])


def _call(function, *args, **offered):
    """`function` with the keywords of `offered` it takes (a move's inputs may change)."""
    takes = inspect.signature(function).parameters
    return function(*args, **{name: value for name, value in offered.items() if name in takes})


def fields_for_move(phase, to_status, bot) -> dict:
    """The fields warmup.lifecycle.state's own move writes beside the status, caught on their way to
    apply_transition (nothing is written). For a pair the machine refuses, those of a
    move into `to_status` (the table's, else the undo table's) and what leaving
    `phase.status` clears (LEASE_RELEASED, REVIEW_CLEARED), so only the table refuses it."""
    pair = (phase.status, to_status)
    into = [kind for (_, to), kind in TRANSITIONS.items() if to == to_status]
    make = MOVE_FUNCTIONS[TRANSITIONS[pair]] if pair in TRANSITIONS else into_pending
    if pair not in TRANSITIONS and into:
        make = MOVE_FUNCTIONS[into[0]]
    written = {}

    def catch_many(phases, to, *, per_row=None, table=None, **fields):
        written.update(fields, **(per_row or {}).get(phase.pk, {}))
        return phases

    def catch(one, to, **fields):
        return catch_many([one], to, **fields)[0]

    with (
        mock.patch.object(state, "apply_transition_many", catch_many),
        mock.patch.object(state, "apply_transition", catch),
    ):
        make(copy.copy(phase), timezone.now(), bot)
    if pair not in TRANSITIONS:
        leaving = {S.IN_PROGRESS: state.LEASE_RELEASED, S.REVIEW_REQUIRED: state.REVIEW_CLEARED}
        written |= leaving.get(phase.status, {})
    return written


def make_in_progress_phase(account, bot, *, order):
    tick()
    phase = phase_claim(bot=bot)
    assert phase is not None and phase.order == order
    return phase


# --- The table ---------------------------------------------------------------------------


def test_the_transitions_table_is_the_one_in_the_design():
    assert set(TRANSITIONS) == DESIGN_MOVES
    assert len(ALLOWED) == 11 and len(FORBIDDEN) == 25


def test_every_move_of_the_table_has_its_function_here():
    assert set(TRANSITIONS.values()) <= set(MOVE_FUNCTIONS)


def test_the_moves_only_an_undo_makes_are_refused_by_the_machine():
    # Reopening a completed phase or locking an unlocked one again: bulk undo only.
    only_undo = set(UNDO_TRANSITIONS) - set(TRANSITIONS)
    assert only_undo == {
        (S.COMPLETED, S.REVIEW_REQUIRED),
        (S.AVAILABLE, S.PENDING),
        (S.CONTENT_ASSIGNED, S.PENDING),
    }
    assert not any(is_allowed(*pair) for pair in only_undo)


@pytest.mark.parametrize("pair", ALLOWED, ids=pair_id)
def test_an_allowed_move_is_applied_with_its_fields(pair, account, bot):
    from_status, to_status = pair
    phase = WarmupPhaseFactory(account=account, bot=bot, status=from_status)
    fields = fields_for_move(phase, to_status, bot)

    assert is_allowed(from_status, to_status)
    check_transition(phase, to_status)
    returned = apply_transition(phase, to_status, **fields)

    assert returned.status == to_status
    row = stored(phase)
    assert row["status"] == to_status
    for name, value in fields.items():
        column = WarmupPhase._meta.get_field(name).attname  # content -> content_id
        expected = value.pk if hasattr(value, "pk") else value
        assert row[column] == expected, name


@pytest.mark.parametrize("pair", ALLOWED, ids=pair_id)
def test_each_move_returns_the_phase_it_moved_in_its_new_status(pair, account, bot):
    from_status, to_status = pair
    phase = WarmupPhaseFactory(account=account, bot=bot, status=from_status)

    returned = MOVE_FUNCTIONS[TRANSITIONS[pair]](phase, timezone.now(), bot)

    moved = returned if isinstance(returned, list) else [returned]
    assert [(p.pk, p.status) for p in moved] == [(phase.pk, to_status)]
    assert stored(phase)["status"] == to_status


@pytest.mark.parametrize("pair", FORBIDDEN, ids=pair_id)
def test_a_forbidden_move_is_refused_and_changes_nothing(pair, account, bot):
    from_status, to_status = pair
    phase = WarmupPhaseFactory(account=account, bot=bot, status=from_status)
    before = stored(phase)

    assert not is_allowed(from_status, to_status)
    with pytest.raises(InvalidTransition) as checked:
        check_transition(phase, to_status)
    with pytest.raises(InvalidTransition) as applied:
        apply_transition(phase, to_status, **fields_for_move(phase, to_status, bot))

    for error in (checked.value, applied.value):
        assert error.code == "invalid_transition"
        assert error.http_status == 409
        assert error.current_status == from_status
        assert error.target_status == to_status
        assert error.message == TRANSITION_NOT_ALLOWED.format(current=from_status, target=to_status)
    assert phase.status == from_status
    assert stored(phase) == before


def test_a_stale_instance_loses_the_compare_and_set(account, bot):
    # given two copies of the same content_assigned phase
    phase = WarmupPhaseFactory(account=account, content_assigned=True)
    stale = reload(phase)
    # when one copy is held for review
    apply_transition(phase, S.REVIEW_REQUIRED, review_required_since=timezone.now())
    # then the other cannot move it from the status it still believes in
    before = stored(phase)
    with pytest.raises(InvalidTransition) as raised:
        apply_transition(stale, S.IN_PROGRESS, **fields_for_move(stale, S.IN_PROGRESS, bot))
    assert raised.value.current_status == S.REVIEW_REQUIRED
    assert raised.value.message == TRANSITION_RACED.format(current="review_required")
    assert stored(phase) == before


def test_a_plain_save_never_writes_the_status(account):
    phase = WarmupPhaseFactory(account=account)
    phase.status = S.COMPLETED
    phase.last_failure_reason = "edited in a shell"

    phase.save()

    row = stored(phase)
    assert row["status"] == S.AVAILABLE
    assert row["last_failure_reason"] == "edited in a shell"


# --- Each allowed move through its service -------------------------------------------------


def test_pending_becomes_available_only_once_the_delay_has_passed(account, bot, clock):
    # given the first phase completed: the second (avatar) waits for its template's delay
    pending = WarmupPhaseFactory(account=account, bot=bot, pending=True)
    delay = pending.template.delay
    assert delay == timedelta(hours=6)
    assert pending.available_at == timezone.now() + delay

    # when the scheduler runs a second early, then on time
    clock.shift(delay - timedelta(seconds=1))
    assert phases_unlock_due(now=timezone.now()) == 0
    assert reload(pending).status == S.PENDING
    clock.shift(timedelta(seconds=1))
    assert phases_unlock_due(now=timezone.now()) == 1

    # then it is available from the time it became due
    phase = reload(pending)
    assert phase.status == S.AVAILABLE
    assert phase.available_at == timezone.now()


def test_tick_unlocks_and_assigns_content_after_the_delay(account, bot, traveller):
    pending = WarmupPhaseFactory(account=account, bot=bot, pending=True)
    tick()
    assert reload(pending).status == S.PENDING

    traveller.shift(pending.template.delay + timedelta(seconds=1))
    report = tick()

    phase = reload(pending)
    assert (report.unlocked, report.assigned) == (1, 1)
    assert phase.status == S.CONTENT_ASSIGNED
    assert phase.content.phase_type == "avatar"


def test_tick_assigns_the_least_used_content_and_makes_the_phase_claimable(account, clock):
    phase = WarmupPhaseFactory(account=account)
    used, unused = ContentItem.objects.filter(phase_type=phase.phase_type).order_by("id")
    ContentItem.objects.filter(pk=used.pk).update(times_used=5)

    report = tick()

    phase = reload(phase)
    assert report.assigned == 1
    assert phase.status == S.CONTENT_ASSIGNED
    assert phase.content == unused
    assert phase.next_attempt_at == timezone.now()
    assert ContentItem.objects.get(pk=unused.pk).times_used == 1


def test_a_phase_without_content_in_its_pool_stays_available(account, bot):
    phase = WarmupPhaseFactory(account=account)
    ContentItem.objects.filter(phase_type=phase.phase_type).update(is_active=False)

    report = phases_assign_content(now=timezone.now())

    assert (report.assigned, report.starved) == (0, 1)
    assert reload(phase).status == S.AVAILABLE
    assert phase_claim(bot=bot) is None


def test_a_phase_that_takes_no_content_is_assigned_none(account, bot, traveller):
    # given the account is at its third phase (follow_accounts takes no content)
    WarmupPhaseFactory(account=account, bot=bot, completed=True)
    traveller.shift(timedelta(hours=6, seconds=1))
    second = make_in_progress_phase(account, bot, order=2)
    phase_complete(phase_id=second.pk, bot=bot, lease_token=second.lease_token)
    traveller.shift(timedelta(hours=12, seconds=1))

    tick()

    third = account.phases.get(order=3)
    assert not third.template.requires_content
    assert third.status == S.CONTENT_ASSIGNED
    assert third.content is None


def test_a_claim_takes_the_phase_under_a_new_lease(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, content_assigned=True)

    claimed = phase_claim(bot=bot)

    assert claimed.pk == phase.pk
    phase = reload(phase)
    assert phase.status == S.IN_PROGRESS
    assert phase.bot == bot
    assert phase.lease_token is not None
    assert phase.lease_expires_at == timezone.now() + phase.template.lease_duration
    assert phase.attempt_count == 1
    attempt = phase.attempts.get()
    assert (attempt.number, attempt.bot, attempt.lease_token) == (1, bot, phase.lease_token)
    assert attempt.content == phase.content
    assert attempt.outcome == ""


def test_a_completed_phase_unlocks_the_next_after_its_template_delay(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)

    phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token, result={"ok": 1})

    phase = reload(phase)
    now = timezone.now()
    assert phase.status == S.COMPLETED
    assert (phase.completed_at, phase.completion_method) == (now, CompletionMethod.BOT)
    assert (phase.lease_token, phase.lease_expires_at) == (None, None)
    attempt = phase.attempts.get()
    assert (attempt.outcome, attempt.finished_at, attempt.result) == (
        AttemptOutcome.COMPLETED,
        now,
        {"ok": 1},
    )
    following = account.phases.get(order=2)
    assert following.status == S.PENDING
    assert following.available_at == now + following.template.delay


def test_a_next_phase_without_delay_is_available_at_once(db, content_pool, bot, clock):
    # given a plan whose second step follows without delay
    plan = WarmupPlan.objects.create(slug="quick", name="Quick")
    PhaseTemplate.objects.create(plan=plan, order=1, phase_type="profile_bio", name="Bio")
    PhaseTemplate.objects.create(plan=plan, order=2, phase_type="avatar", name="Avatar")
    account = AccountFactory(plan=plan)
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)

    phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)

    following = account.phases.get(order=2)
    assert following.status == S.AVAILABLE
    assert following.available_at == timezone.now()


def test_a_retryable_failure_puts_the_phase_back_for_a_retry(account, bot):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    content = phase.content

    outcome = fail(phase, bot, "network_error")

    phase = reload(phase)
    assert outcome.decision == "retry_scheduled"
    assert phase.status == S.CONTENT_ASSIGNED
    assert phase.content == content
    assert phase.retry_count == 1
    assert phase.next_attempt_at > timezone.now()
    assert (phase.lease_token, phase.lease_expires_at) == (None, None)


def test_a_failure_needing_a_person_goes_to_review(account, bot):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)

    outcome = fail(phase, bot, "challenge_required")

    phase = reload(phase)
    assert outcome.decision == "review_required"
    assert phase.status == S.REVIEW_REQUIRED
    assert phase.review_required_since is not None
    assert phase.last_failure_category == "challenge_required"


@pytest.mark.parametrize(
    ("resolver", "to_status", "completion_method"),
    [
        (review_resume, S.AVAILABLE, ""),
        (review_retry, S.CONTENT_ASSIGNED, ""),
        (review_complete, S.COMPLETED, CompletionMethod.MANUAL),
        (review_skip, S.COMPLETED, CompletionMethod.SKIPPED),
    ],
    ids=["resume", "retry", "complete", "skip"],
)
def test_a_review_resolution_moves_the_phase_out_of_review(
    resolver, to_status, completion_method, account, bot, reviewer_actor
):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)

    resolver(phase_id=phase.pk, reason_code=ReasonCode.OTHER, note=NOTE, actor=reviewer_actor)

    phase = reload(phase)
    assert phase.status == to_status
    assert phase.completion_method == completion_method
    assert phase.review_required_since is None


@pytest.mark.parametrize("from_status", [S.AVAILABLE, S.CONTENT_ASSIGNED, S.IN_PROGRESS])
def test_an_active_phase_can_be_held_for_review(from_status, account, bot, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, bot=bot, status=from_status)

    review_hold(phase_id=phase.pk, note=NOTE, actor=reviewer_actor)

    phase = reload(phase)
    assert phase.status == S.REVIEW_REQUIRED
    assert phase.review_required_since is not None
    assert (phase.lease_token, phase.next_attempt_at) == (None, None)


# --- Services refuse from the wrong status -------------------------------------------------


@pytest.mark.parametrize(
    "resolver",
    [review_resume, review_retry, review_complete, review_skip],
    ids=["resume", "retry", "complete", "skip"],
)
@pytest.mark.parametrize("from_status", [S.PENDING, S.IN_PROGRESS, S.COMPLETED])
def test_a_resolution_outside_review_is_refused(
    resolver, from_status, account, bot, reviewer_actor
):
    phase = WarmupPhaseFactory(account=account, bot=bot, status=from_status)
    before = stored(phase)

    with pytest.raises(InvalidTransition) as raised:
        resolver(phase_id=phase.pk, reason_code=ReasonCode.OTHER, note=NOTE, actor=reviewer_actor)

    assert raised.value.code == "invalid_transition"
    assert raised.value.current_status == from_status
    assert raised.value.message == NOT_IN_REVIEW.format(phase_id=phase.pk, status=from_status.value)
    assert stored(phase) == before
    assert not phase.review_logs.filter(actor_user=reviewer_actor.user).exists()


@pytest.mark.parametrize("from_status", [S.PENDING, S.COMPLETED, S.REVIEW_REQUIRED])
def test_hold_is_refused_for_a_phase_that_is_not_active(from_status, account, bot, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, bot=bot, status=from_status)
    before = stored(phase)
    logs_before = phase.review_logs.count()

    with pytest.raises(InvalidTransition) as raised:
        review_hold(phase_id=phase.pk, note=NOTE, actor=reviewer_actor)

    # the message names the statuses as the API and the admin show them
    assert raised.value.message == TRANSITION_NOT_ALLOWED.format(
        current=from_status.value, target="review_required"
    )
    assert raised.value.target_status == "review_required"
    assert stored(phase) == before
    assert phase.review_logs.count() == logs_before


def test_completing_a_completed_phase_with_a_fresh_lease_is_refused(db, content_pool, bot):
    # given the phase is completed and the bot holds a live lease on another account's phase
    done = WarmupPhaseFactory(account=AccountFactory(), bot=bot, completed=True)
    live = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_progress=True)
    before = stored(done)

    # when the bot reports the completed phase done again under a lease it never had there
    for token in (live.lease_token, uuid.uuid4()):
        with pytest.raises(LeaseLost) as raised:
            phase_complete(phase_id=done.pk, bot=bot, lease_token=token)

        # then it is refused and nothing changes
        assert raised.value.code == "lease_lost"
        assert raised.value.message == LEASE_STALE
    assert stored(done) == before
    assert reload(live).status == S.IN_PROGRESS


# A phase the bot completed it held once: lease_lost; one it never claimed reads as no phase.
@pytest.mark.parametrize(
    ("from_status", "error"),
    [(S.AVAILABLE, NotFound), (S.CONTENT_ASSIGNED, NotFound), (S.COMPLETED, LeaseLost)],
)
def test_bot_reports_on_a_phase_it_does_not_hold_are_refused(from_status, error, account, bot):
    phase = WarmupPhaseFactory(account=account, bot=bot, status=from_status)
    before = stored(phase)
    token = uuid.uuid4()

    with pytest.raises(error):
        phase_heartbeat(phase_id=phase.pk, bot=bot, lease_token=token)
    with pytest.raises(error):
        phase_complete(phase_id=phase.pk, bot=bot, lease_token=token)
    with pytest.raises(error):
        phase_fail(
            phase_id=phase.pk, bot=bot, lease_token=token, category="network_error", reason="x"
        )

    assert stored(phase) == before
    assert not PhaseAttempt.objects.filter(phase=phase, outcome=AttemptOutcome.FAILED).exists()


def test_another_bots_report_is_refused(account, bot, other_bot):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    before = stored(phase)

    # It never held the phase: told no more than of a phase that does not exist.
    with pytest.raises(NotFound):
        phase_complete(phase_id=phase.pk, bot=other_bot, lease_token=phase.lease_token)
    with pytest.raises(NotFound):
        fail(phase, other_bot, "network_error")

    assert stored(phase) == before


def test_only_due_content_assigned_phases_are_claimed(account, bot):
    # given the only phase of the account is available, not yet content_assigned
    phase = first_phase(account)
    assert phase.status == S.AVAILABLE

    assert phase_claim(bot=bot) is None
    assert reload(phase).status == S.AVAILABLE
    assert WarmupPhase.objects.filter(status=S.IN_PROGRESS).count() == 0


def test_a_race_names_the_status_of_the_phase_that_raced_not_another(db, content_pool, bot):
    # given: another account's phase in a different status, listed before this one (phases
    # are listed by account, and accounts by platform and username)
    first_account = AccountFactory(platform="facebook", username="aaaaa")
    other = WarmupPhaseFactory(account=first_account, content_assigned=True)
    mine = WarmupPhaseFactory(
        account=AccountFactory(platform="youtube", username="zzzzz"), content_assigned=True
    )
    assert WarmupPhase.objects.first() == other
    stale = reload(mine)
    apply_transition(mine, S.REVIEW_REQUIRED, review_required_since=timezone.now())

    with pytest.raises(InvalidTransition) as raised:
        apply_transition(stale, S.IN_PROGRESS, **fields_for_move(stale, S.IN_PROGRESS, bot))

    assert reload(other).status == S.CONTENT_ASSIGNED
    assert raised.value.current_status == S.REVIEW_REQUIRED
    assert raised.value.context["phase_id"] == mine.pk


def test_a_status_move_advances_updated_at(account, clock):
    phase = WarmupPhaseFactory(account=account, content_assigned=True)
    before = reload(phase).updated_at
    clock.shift(timedelta(minutes=5))

    apply_transition(phase, S.REVIEW_REQUIRED, review_required_since=timezone.now())

    assert reload(phase).updated_at == before + timedelta(minutes=5)


# --- The log line of each move -----------------------------------------------------------


@pytest.fixture
def status_lines(caplog):
    """(from, to, category) of each phase_status_changed line written so far."""
    caplog.set_level(logging.INFO, logger="warmup.state")

    def read() -> list[tuple]:
        found = [r.msg for r in caplog.records if r.name == "warmup.state"]
        return [(m["from"], m["to"], m["category"]) for m in found]

    return read


def test_a_move_logs_the_failure_behind_it_and_a_claim_or_completion_none(
    account, bot, reviewer_actor, traveller, status_lines, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        # a retry, then a claim and a completion of a phase that failed before
        phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
        fail(phase, bot, "network_error")
        traveller.shift(timedelta(hours=1))
        again = phase_claim(bot=bot)
        assert again.pk == phase.pk
        # an escalation and the resolution of the review it started
        fail(again, bot, "challenge_required")
        review_resume(
            phase_id=phase.pk, reason_code=ReasonCode.OTHER, note=NOTE, actor=reviewer_actor
        )
        tick()
        last = phase_claim(bot=bot)
        phase_complete(phase_id=last.pk, bot=bot, lease_token=last.lease_token)

    assert status_lines()[-7:] == [
        (S.IN_PROGRESS, S.CONTENT_ASSIGNED, "network_error"),
        (S.CONTENT_ASSIGNED, S.IN_PROGRESS, None),
        (S.IN_PROGRESS, S.REVIEW_REQUIRED, "challenge_required"),
        (S.REVIEW_REQUIRED, S.AVAILABLE, "challenge_required"),
        (S.AVAILABLE, S.CONTENT_ASSIGNED, None),
        (S.CONTENT_ASSIGNED, S.IN_PROGRESS, None),
        (S.IN_PROGRESS, S.COMPLETED, None),
    ]


def test_a_batch_that_raced_on_one_row_is_refused_whole_and_says_so(db, content_pool):
    # given two content_assigned phases, one of them held for review meanwhile
    first, second = (WarmupPhaseFactory(content_assigned=True) for _ in range(2))
    stale = [reload(first), reload(second)]
    apply_transition(second, S.REVIEW_REQUIRED, review_required_since=timezone.now())
    before = stored(first)

    # when a batch move of both runs from the status it still believes in
    with pytest.raises(InvalidTransition) as raised, transaction.atomic():
        state.enter_review_many(stale, now=timezone.now())

    # then it names the batch's starting status, no one phase, and moved neither
    assert raised.value.current_status == S.CONTENT_ASSIGNED
    assert raised.value.target_status == S.REVIEW_REQUIRED
    assert raised.value.message == TRANSITION_RACED.format(current="changed for some of the batch")
    assert "phase_id" not in raised.value.context
    assert stored(first) == before


# --- A template's times, as stored, within bounds ------------------------------------------
# The admin refuses a lease under a second and a negative delay; a row stored anyway (a raw
# update, an old row) still gives a claim and an unlock their floor.


def test_a_lease_stored_under_a_second_still_lasts_a_second(account, bot, clock):
    PhaseTemplate.objects.filter(plan__slug="default").update(
        lease_duration=timedelta(milliseconds=200)
    )
    tick()

    claimed = phase_claim(bot=bot)

    assert claimed.lease_expires_at == timezone.now() + timedelta(seconds=1)
    assert reload(claimed).lease_expires_at == timezone.now() + timedelta(seconds=1)


def test_a_negative_stored_delay_unlocks_the_next_phase_at_once_and_not_in_the_past(
    account, bot, clock
):
    PhaseTemplate.objects.filter(plan__slug="default", order=2).update(delay=-timedelta(hours=1))
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)

    phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)

    following = account.phases.get(order=2)
    assert following.status == S.AVAILABLE
    assert following.available_at == timezone.now()


# --- A declared condition, on a row and in a query -----------------------------------------
# The bots' moves are declared once (state.Condition, Either, NoneOf) and evaluated two ways:
# on a row already read (`holds`, a report's lease check) and as a filter (`matching`, a
# claim). Both must say the same of the same row, for every kind of condition.

C = Condition  # short, for the table below
OPEN_ATTEMPT = (C("phase_id", "exact", Column("id")), C("outcome", "exact", ""))
DONE_ATTEMPT = (C("phase_id", "exact", Column("id")), C("outcome", "exact", "completed"))
# (condition, whether it holds of an in-progress phase held under the given token)
DECLARED = {
    "exact": (C("status", "exact", S.IN_PROGRESS), True),
    "exact, not": (C("status", "exact", S.COMPLETED), False),
    "exact, a token as text": (C("lease_token", "exact", Given("token")), True),
    "exact, another token": (C("lease_token", "exact", Given("other_token")), False),
    "in, through a relation": (C("account__status", "in", ["active", "paused"]), True),
    "in, not": (C("account__status", "in", ["suspended"]), False),
    "isnull": (C("review_assignee", "isnull", True), True),
    "isnull, not": (C("bot", "isnull", True), False),
    "gt": (C("lease_expires_at", "gt", Given("now")), True),
    "lte": (C("lease_expires_at", "lte", Given("now")), False),
    "lt, of an empty column": (C("review_required_since", "lt", Given("now")), False),
    "gte, of an empty column": (C("review_required_since", "gte", Given("now")), False),
    "either": (Either((C("status", "exact", S.COMPLETED), C("bot", "isnull", False))), True),
    "either, neither": (
        Either((C("status", "exact", S.COMPLETED), C("bot", "isnull", True))),
        False,
    ),
    "none of, none": (NoneOf(PhaseAttempt, DONE_ATTEMPT), True),
    "none of, one": (NoneOf(PhaseAttempt, OPEN_ATTEMPT), False),
}


@pytest.mark.parametrize("name", DECLARED)
def test_a_declared_condition_says_the_same_of_a_row_and_in_a_query(name, account, bot):
    condition, expected = DECLARED[name]
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    given = {
        "now": timezone.now(),
        "token": str(phase.lease_token),  # as a bot's request carries it
        "other_token": uuid.uuid4(),
    }

    on_the_row = state.holds(phase, [condition], **given)
    query = WarmupPhase.objects.filter(state.matching([condition], **given))
    in_a_query = query.filter(pk=phase.pk).exists()

    assert (on_the_row, in_a_query) == (expected, expected)


# --- Undo moves ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["resume", "retry", "complete", "skip"])
def test_an_undone_resolution_puts_the_phase_back_in_review_as_it_was(
    method, bot, reviewer_actor, clock
):
    phase = new_item_in_review(bot)
    before = stored(phase)

    resolved_then_undone(phase, method=method, actor=reviewer_actor)

    after = stored(phase)
    assert after["status"] == S.REVIEW_REQUIRED
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }


def test_an_undone_completion_locks_the_next_phase_again_and_no_tick_unlocks_it(
    db, content_pool, bot, reviewer_actor, clock
):
    # given a plan whose second step follows without delay, its first phase in review
    plan = WarmupPlan.objects.create(slug="quick", name="Quick")
    PhaseTemplate.objects.create(plan=plan, order=1, phase_type="profile_bio", name="Bio")
    PhaseTemplate.objects.create(plan=plan, order=2, phase_type="avatar", name="Avatar")
    account = AccountFactory(plan=plan)
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    following = account.phases.get(order=2)
    before = stored(following)

    # when a reviewer completes it in bulk, the tick gives the next phase its content, and
    # the batch is undone
    done = reviews_resolve_in_batches(
        phase_ids=[phase.pk],
        method="complete",
        reason_code="other",
        note="oops",
        actor=reviewer_actor,
    )
    tick()
    assert reload(following).status == S.CONTENT_ASSIGNED
    clock.shift(timedelta(minutes=1))
    undone = batch_undo_in_batches(undo=done.batch, note="wrong call", actor=reviewer_actor)
    assert undone.changed == [phase.pk]

    # then the next phase is pending as before, with no time to unlock at, and stays so
    clock.shift(timedelta(hours=1))
    tick()
    after = stored(following)
    assert after["status"] == S.PENDING
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }


@pytest.mark.parametrize("from_status", [S.AVAILABLE, S.CONTENT_ASSIGNED])
def test_a_relock_leaves_a_phase_pending_with_no_time_to_unlock_at_and_no_content(
    from_status, account
):
    phase = WarmupPhaseFactory(account=account, status=from_status)
    assert phase.available_at is not None

    (returned,) = state.relock_many([phase])

    row = stored(phase)
    written = (row["status"], row["available_at"], row["content_id"], row["next_attempt_at"])
    assert written == (S.PENDING, None, None, None)
    assert (returned.status, returned.available_at, returned.content_id) == (S.PENDING, None, None)


# --- A breaker's declared conditions ---------------------------------------------------------


def test_a_breaker_with_no_trial_left_blocks_its_scope_but_not_the_claims_other_work(
    settings, clock, content_pool
):
    # given a breaker on Instagram bios whose cool-down ended and whose trials are all taken,
    # Instagram bios ready (waiting longest) and a TikTok bio ready too
    breaker = dead_proxy_breaker(settings, clock)
    tiktok = AccountFactory(platform="tiktok")
    clock.shift(timedelta(hours=1))
    tick()
    Breaker.objects.filter(pk=breaker.pk).update(
        cooldown_until=timezone.now() - timedelta(seconds=1),
        trials_left=0,
        state=BreakerState.HALF_OPEN,
    )
    assert WarmupPhase.objects.filter(platform="instagram", status=S.CONTENT_ASSIGNED).exists()

    # when a bot asks for any work
    got = phase_claim(bot=BotFactory())

    # then it gets the TikTok bio, not nothing
    assert got is not None
    assert got.account_id == tiktok.pk
