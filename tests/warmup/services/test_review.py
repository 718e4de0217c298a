"""Review actions: each writes exactly one ReviewLog row; resolutions need a reason and a note
and hand the phase back as promised; account suspension, pause and reactivation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reviews.models import ReviewLog
from tests.builders import fail, first_phase, reload, stored
from tests.factories import AccountFactory, UserFactory, WarmupPhaseFactory
from warmup.domain.choices import ActorType, ReasonCode, ResolutionMethod, ReviewAction
from warmup.domain.errors import (
    ACCOUNT_ALREADY_ACTIVE,
    ACCOUNT_NOT_ACTIVE,
    LEASE_STALE,
    NOTE_REQUIRED,
    NOTHING_TO_HOLD,
    REASON_CODE_REQUIRED,
    RETRY_NEEDS_CONTENT,
    UNKNOWN_RESOLUTION,
    InvalidInput,
    InvalidTransition,
    LeaseLost,
    NotClaimable,
)
from warmup.models import (
    Account,
    AccountStatus,
    AttemptOutcome,
    CompletionMethod,
    FailureCategory,
    PhaseAttempt,
    PhaseStatus,
)
from warmup.services.accounts import account_pause, account_reactivate, account_suspend
from warmup.services.bot_work import phase_claim, phase_complete, phase_heartbeat
from warmup.services.resolutions import (
    review_complete,
    review_resolve,
    review_resume,
    review_retry,
    review_skip,
)
from warmup.services.review import (
    review_assign,
    review_comment,
    review_hold,
    review_hold_account,
    review_recategorize,
)
from warmup.services.tick import tick

S = PhaseStatus
NOTE = "Logged in by hand and entered the SMS code."
RESOLVERS = {
    ResolutionMethod.RESUME: (review_resume, S.AVAILABLE, ReviewAction.RESUMED),
    ResolutionMethod.RETRY: (review_retry, S.CONTENT_ASSIGNED, ReviewAction.RETRIED),
    ResolutionMethod.COMPLETE: (review_complete, S.COMPLETED, ReviewAction.COMPLETED),
    ResolutionMethod.SKIP: (review_skip, S.COMPLETED, ReviewAction.SKIPPED),
}
ALL_METHODS = list(RESOLVERS)
NEEDS_ACTIVE_ACCOUNT = [ResolutionMethod.RESUME, ResolutionMethod.RETRY]


def resolve(method, phase, actor, *, reason_code=ReasonCode.SOLVED_CHALLENGE, note=NOTE):
    resolver = RESOLVERS[method][0]
    return resolver(phase_id=phase.pk, reason_code=reason_code, note=note, actor=actor)


def logs_after(last_id: int) -> list[ReviewLog]:
    return list(ReviewLog.objects.filter(pk__gt=last_id).order_by("id"))


def last_log_id() -> int:
    return ReviewLog.objects.order_by("-id").values_list("id", flat=True).first() or 0


def one_new_log(last_id: int) -> ReviewLog:
    logs = logs_after(last_id)
    assert len(logs) == 1, [log.action for log in logs]
    return logs[0]


def review_after_a_retry(account, bot, clock):
    """A phase that failed once with a network error (retried), then hit a challenge."""
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    outcome = fail(phase, bot, FailureCategory.NETWORK_ERROR)
    clock.move_to(outcome.next_attempt_at)
    phase = phase_claim(bot=bot)
    fail(phase, bot, FailureCategory.CHALLENGE_REQUIRED)
    phase = reload(phase)
    assert (phase.status, phase.retry_count) == (S.REVIEW_REQUIRED, 1)
    return phase


# --- Resolutions -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS)
def test_a_resolution_writes_one_log_row_with_the_moment_before(
    method, account, bot, clock, reviewer, reviewer_actor
):
    # given an item two hours in review, escalated once, after one automatic retry
    phase = review_after_a_retry(account, bot, clock)
    clock.shift(timedelta(hours=2))
    tick()
    assert reload(phase).escalation_level == 1
    last_id = last_log_id()

    # when a reviewer resolves it
    resolve(method, phase, reviewer_actor, reason_code=ReasonCode.SOLVED_CHALLENGE)

    # then one row records who, what, why, and the state of the item before
    _, to_status, action = RESOLVERS[method]
    log = one_new_log(last_id)
    assert log.action == action
    assert (log.actor_type, log.actor_user, log.actor_bot) == (ActorType.USER, reviewer, None)
    assert (log.from_status, log.to_status) == (S.REVIEW_REQUIRED, to_status)
    assert log.failure_category == FailureCategory.CHALLENGE_REQUIRED
    assert (log.retry_count, log.escalation_level) == (1, 1)
    assert log.resolution_method == method
    assert (log.reason_code, log.note) == (ReasonCode.SOLVED_CHALLENGE, NOTE)
    assert log.time_in_review == timedelta(hours=2)
    assert (log.phase, log.account) == (phase, account)
    phase = reload(phase)
    assert phase.status == to_status
    assert (phase.review_required_since, phase.escalation_level) == (None, 0)


@pytest.mark.parametrize(
    ("reason_code", "note", "field"),
    [
        (None, NOTE, "reason_code"),
        ("", NOTE, "reason_code"),
        ("fixed_it", NOTE, "reason_code"),
        (ReasonCode.OTHER, "", "note"),
        (ReasonCode.OTHER, " \n\t", "note"),
        (ReasonCode.OTHER, None, "note"),
    ],
)
@pytest.mark.parametrize("method", ALL_METHODS)
def test_a_resolution_needs_a_reason_code_and_a_note(
    method, reason_code, note, field, account, bot, reviewer_actor
):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    before, last_id = stored(phase), last_log_id()

    with pytest.raises(InvalidInput) as raised:
        resolve(method, phase, reviewer_actor, reason_code=reason_code, note=note)

    assert raised.value.code == "validation_error"
    assert raised.value.field == field
    expected = (
        REASON_CODE_REQUIRED.format(codes=", ".join(ReasonCode.values))
        if field == "reason_code"
        else NOTE_REQUIRED
    )
    assert raised.value.message == expected
    assert stored(phase) == before
    assert logs_after(last_id) == []


def test_the_note_is_stored_without_surrounding_blanks(account, bot, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    last_id = last_log_id()

    resolve(ResolutionMethod.RETRY, phase, reviewer_actor, note=f"  {NOTE}\n")

    assert one_new_log(last_id).note == NOTE


def test_an_unknown_resolution_is_refused(account, bot, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    before, last_id = stored(phase), last_log_id()

    with pytest.raises(InvalidInput) as raised:
        review_resolve(
            phase_id=phase.pk,
            method="restart",
            reason_code=ReasonCode.OTHER,
            note=NOTE,
            actor=reviewer_actor,
        )

    assert raised.value.message == UNKNOWN_RESOLUTION.format(
        value="restart", choices=", ".join(ResolutionMethod.values)
    )
    assert stored(phase) == before
    assert logs_after(last_id) == []


@pytest.mark.parametrize("method", ALL_METHODS)
def test_review_resolve_dispatches_by_method(method, account, bot, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)

    review_resolve(
        phase_id=phase.pk,
        method=method,
        reason_code=ReasonCode.OTHER,
        note=NOTE,
        actor=reviewer_actor,
    )

    assert reload(phase).status == RESOLVERS[method][1]


def test_resume_resets_retries_and_lets_the_scheduler_assign_content_again(
    account, bot, clock, reviewer_actor
):
    # given an item in review after a retry, with content assigned
    phase = review_after_a_retry(account, bot, clock)
    assert phase.content is not None

    # when a reviewer resumes automation
    review_resume(
        phase_id=phase.pk,
        reason_code=ReasonCode.FIXED_CREDENTIALS,
        note=NOTE,
        actor=reviewer_actor,
    )

    # then it is available, with a fresh retry budget and no content...
    resumed = reload(phase)
    assert resumed.status == S.AVAILABLE
    assert (resumed.retry_count, resumed.content, resumed.next_attempt_at) == (0, None, None)
    assert resumed.available_at == timezone.now()
    assert phase_claim(bot=bot) is None

    # ...until the next tick assigns content and a bot can claim it
    tick()
    assigned = reload(phase)
    assert assigned.status == S.CONTENT_ASSIGNED
    assert assigned.content is not None
    assert phase_claim(bot=bot).pk == phase.pk


def test_retry_keeps_the_content_resets_the_budget_and_is_claimable_at_once(
    account, bot, clock, reviewer_actor
):
    phase = review_after_a_retry(account, bot, clock)
    content = phase.content

    review_retry(
        phase_id=phase.pk, reason_code=ReasonCode.REPLACED_PROXY, note=NOTE, actor=reviewer_actor
    )

    retried = reload(phase)
    assert retried.status == S.CONTENT_ASSIGNED
    assert (retried.content, retried.retry_count) == (content, 0)
    assert retried.next_attempt_at == timezone.now()
    claimed = phase_claim(bot=bot)
    assert (claimed.pk, claimed.content) == (phase.pk, content)


def test_retry_of_a_phase_that_never_got_content_is_refused(account, bot, reviewer_actor):
    # given a phase held for review before the scheduler assigned its content
    phase = first_phase(account)
    assert phase.status == S.AVAILABLE and phase.template.requires_content
    review_hold(phase_id=phase.pk, note="Check the account first", actor=reviewer_actor)
    before, last_id = stored(phase), last_log_id()

    # when a reviewer asks to retry it "with the same content"
    with pytest.raises(InvalidTransition) as raised:
        review_retry(
            phase_id=phase.pk, reason_code=ReasonCode.OTHER, note=NOTE, actor=reviewer_actor
        )

    # then it is refused (a bot would get a phase without content); resume is the way on
    assert raised.value.code == "invalid_transition"
    assert raised.value.message == RETRY_NEEDS_CONTENT.format(phase_id=phase.pk)
    assert stored(phase) == before
    assert logs_after(last_id) == []
    review_resume(phase_id=phase.pk, reason_code=ReasonCode.OTHER, note=NOTE, actor=reviewer_actor)
    tick()
    assert reload(phase).content is not None


@pytest.mark.parametrize(
    ("method", "completion_method"),
    [
        (ResolutionMethod.COMPLETE, CompletionMethod.MANUAL),
        (ResolutionMethod.SKIP, CompletionMethod.SKIPPED),
    ],
)
def test_complete_and_skip_finish_the_phase_and_unlock_the_next(
    method, completion_method, account, bot, clock, reviewer_actor
):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)

    resolve(method, phase, reviewer_actor, reason_code=ReasonCode.OTHER)

    done = reload(phase)
    assert done.status == S.COMPLETED
    assert (done.completion_method, done.completed_at) == (completion_method, timezone.now())
    following = account.phases.get(order=2)
    assert following.status == S.PENDING
    assert following.available_at == timezone.now() + following.template.delay
    clock.move_to(following.available_at)
    tick()
    assert reload(following).status == S.CONTENT_ASSIGNED


# --- Hold ----------------------------------------------------------------------------------


@pytest.mark.parametrize("from_status", [S.AVAILABLE, S.CONTENT_ASSIGNED, S.IN_PROGRESS])
def test_hold_writes_one_log_row(from_status, account, bot, clock, reviewer, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, bot=bot, status=from_status)
    last_id = last_log_id()

    review_hold(phase_id=phase.pk, note="Looks odd", actor=reviewer_actor)

    log = one_new_log(last_id)
    assert log.action == ReviewAction.HELD
    assert (log.actor_type, log.actor_user) == (ActorType.USER, reviewer)
    assert (log.from_status, log.to_status) == (from_status, S.REVIEW_REQUIRED)
    assert log.note == "Looks odd"
    assert reload(phase).review_required_since == log.created_at


def test_hold_records_the_failure_context_of_the_moment(account, bot, clock, reviewer_actor):
    # given a phase waiting for its retry after a network error
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    fail(phase, bot, FailureCategory.NETWORK_ERROR)
    last_id = last_log_id()

    review_hold(phase_id=phase.pk, note="Proxy pool is down", actor=reviewer_actor)

    log = one_new_log(last_id)
    assert (log.from_status, log.to_status) == (S.CONTENT_ASSIGNED, S.REVIEW_REQUIRED)
    # the hold is its own entry (no category: held), with the retries the phase had so far
    assert (log.failure_category, log.retry_count) == ("", 1)
    held = reload(phase)
    assert held.next_attempt_at is None
    assert (held.last_failure_category, held.last_failure_reason) == ("", "Proxy pool is down")
    # and the network error stays in the phase's attempts
    assert [a.failure_category for a in held.attempts.all()] == [FailureCategory.NETWORK_ERROR]


def test_hold_needs_a_note(account, bot, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, content_assigned=True)
    before, last_id = stored(phase), last_log_id()

    with pytest.raises(InvalidInput, match=NOTE_REQUIRED):
        review_hold(phase_id=phase.pk, note="  ", actor=reviewer_actor)

    assert stored(phase) == before
    assert logs_after(last_id) == []


def test_holding_an_in_progress_phase_makes_the_bots_lease_stale(account, bot, reviewer_actor):
    # given a bot working on the phase
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    token = phase.lease_token

    # when a reviewer holds it
    review_hold(phase_id=phase.pk, note="Wrong account", actor=reviewer_actor)
    held = stored(phase)

    # then the bot's attempt is interrupted and its late reports are refused
    attempt = phase.attempts.get()
    assert (attempt.outcome, attempt.reason) == (AttemptOutcome.INTERRUPTED, "Wrong account")
    for call in (phase_complete, phase_heartbeat):
        with pytest.raises(LeaseLost) as raised:
            call(phase_id=phase.pk, bot=bot, lease_token=token)
        assert raised.value.message == LEASE_STALE
    assert stored(phase) == held
    assert held["status"] == S.REVIEW_REQUIRED


def test_holding_a_retried_phase_interrupts_only_the_running_attempt(
    account, bot, clock, reviewer_actor
):
    # given a phase that failed once and is being worked on again
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    outcome = fail(phase, bot, FailureCategory.NETWORK_ERROR)
    clock.move_to(outcome.next_attempt_at)
    phase = phase_claim(bot=bot)
    first, running = phase.attempts.order_by("number")
    first_before = PhaseAttempt.objects.filter(pk=first.pk).values().get()

    # when a reviewer holds it
    review_hold(phase_id=phase.pk, note="Wrong account", actor=reviewer_actor)

    # then the running attempt is interrupted and the failed one keeps what it was
    assert PhaseAttempt.objects.filter(pk=first.pk).values().get() == first_before
    running = PhaseAttempt.objects.get(pk=running.pk)
    assert (running.outcome, running.reason) == (AttemptOutcome.INTERRUPTED, "Wrong account")


# --- Assign, comment, recategorise --------------------------------------------------------


def test_assign_and_unassign_each_write_one_row(account, bot, reviewer, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    colleague = UserFactory(reviewer=True)

    last_id = last_log_id()
    review_assign(phase_id=phase.pk, assignee=reviewer, actor=reviewer_actor)
    assigned = one_new_log(last_id)

    last_id = last_log_id()
    review_assign(phase_id=phase.pk, assignee=reviewer, actor=reviewer_actor)
    assert logs_after(last_id) == []  # no change, no row

    review_assign(phase_id=phase.pk, assignee=colleague, actor=reviewer_actor)
    reassigned = one_new_log(last_id)

    last_id = last_log_id()
    review_assign(phase_id=phase.pk, assignee=None, actor=reviewer_actor)
    unassigned = one_new_log(last_id)

    assert (assigned.action, assigned.actor_user) == (ReviewAction.ASSIGNED, reviewer)
    assert assigned.data == {"assignee": reviewer.pk, "previous_assignee": None}
    assert reassigned.data == {"assignee": colleague.pk, "previous_assignee": reviewer.pk}
    assert unassigned.action == ReviewAction.UNASSIGNED
    assert unassigned.data == {"assignee": None, "previous_assignee": colleague.pk}
    assert reload(phase).review_assignee is None


def test_assigning_one_item_leaves_the_other_items_in_review_alone(
    account, bot, reviewer, reviewer_actor
):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    other = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    before, last_id = stored(other), last_log_id()

    review_assign(phase_id=phase.pk, assignee=reviewer, actor=reviewer_actor)

    assert reload(phase).review_assignee == reviewer
    assert stored(other) == before
    assert [row.phase_id for row in logs_after(last_id)] == [phase.pk]


def test_only_items_in_review_can_be_assigned(account, bot, reviewer, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    before, last_id = stored(phase), last_log_id()

    with pytest.raises(InvalidTransition):
        review_assign(phase_id=phase.pk, assignee=reviewer, actor=reviewer_actor)

    assert stored(phase) == before
    assert logs_after(last_id) == []


@pytest.mark.parametrize("status", [S.IN_PROGRESS, S.REVIEW_REQUIRED, S.COMPLETED])
def test_a_comment_writes_one_row_in_any_status(status, account, bot, reviewer, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, bot=bot, status=status)
    before, last_id = stored(phase), last_log_id()

    review_comment(phase_id=phase.pk, note="Owner says the phone is lost", actor=reviewer_actor)

    log = one_new_log(last_id)
    assert (log.action, log.actor_user) == (ReviewAction.COMMENTED, reviewer)
    assert log.note == "Owner says the phone is lost"
    assert stored(phase) == before


def test_a_blank_comment_is_refused(account, bot, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    last_id = last_log_id()

    with pytest.raises(InvalidInput) as raised:
        review_comment(phase_id=phase.pk, note="", actor=reviewer_actor)

    assert (raised.value.field, raised.value.message) == ("note", NOTE_REQUIRED)
    assert logs_after(last_id) == []


def test_recategorise_is_logged_and_the_resolution_uses_the_corrected_category(
    account, bot, reviewer, reviewer_actor
):
    # given a failure the bot reported as a challenge that was really a dead proxy
    phase = WarmupPhaseFactory(
        account=account, bot=bot, in_review=True, category=FailureCategory.CHALLENGE_REQUIRED
    )
    last_id = last_log_id()

    # when a reviewer corrects the category, then retries
    review_recategorize(
        phase_id=phase.pk,
        category=FailureCategory.PROXY_ERROR,
        note="The proxy was down",
        actor=reviewer_actor,
    )
    recategorized = one_new_log(last_id)
    last_id = last_log_id()
    review_retry(
        phase_id=phase.pk, reason_code=ReasonCode.REPLACED_PROXY, note=NOTE, actor=reviewer_actor
    )

    # then both rows, and the phase, carry the corrected category
    assert recategorized.action == ReviewAction.RECATEGORIZED
    assert recategorized.actor_user == reviewer
    assert recategorized.data == {"from": "challenge_required", "to": "proxy_error"}
    assert recategorized.failure_category == FailureCategory.PROXY_ERROR
    assert one_new_log(last_id).failure_category == FailureCategory.PROXY_ERROR
    assert reload(phase).last_failure_category == FailureCategory.PROXY_ERROR


def test_recategorising_one_item_leaves_the_others_as_they_were(account, bot, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    other = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    before = stored(other)

    review_recategorize(
        phase_id=phase.pk, category=FailureCategory.PROXY_ERROR, note=NOTE, actor=reviewer_actor
    )

    assert reload(phase).last_failure_category == FailureCategory.PROXY_ERROR
    assert stored(other) == before


def test_recategorise_to_the_same_or_an_unknown_category_writes_nothing(
    account, bot, reviewer_actor
):
    phase = WarmupPhaseFactory(
        account=account, bot=bot, in_review=True, category=FailureCategory.CHALLENGE_REQUIRED
    )
    before, last_id = stored(phase), last_log_id()

    review_recategorize(
        phase_id=phase.pk,
        category=FailureCategory.CHALLENGE_REQUIRED,
        note="Same thing",
        actor=reviewer_actor,
    )
    with pytest.raises(InvalidInput) as raised:
        review_recategorize(phase_id=phase.pk, category="gremlins", note="?", actor=reviewer_actor)

    assert raised.value.field == "category"
    assert stored(phase) == before
    assert logs_after(last_id) == []


# --- Accounts ------------------------------------------------------------------------------


def test_an_account_suspended_failure_suspends_the_account(account, bot, clock):
    last_id = last_log_id()

    phase = WarmupPhaseFactory(
        account=account, bot=bot, in_review=True, category=FailureCategory.ACCOUNT_SUSPENDED
    )

    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    assert account.status_changed_at == timezone.now()
    escalated, suspended = logs_after(last_id)
    assert escalated.action == ReviewAction.ESCALATED
    assert suspended.action == ReviewAction.ACCOUNT_SUSPENDED
    assert (suspended.actor_type, suspended.actor_bot) == (ActorType.BOT, bot)
    assert (suspended.phase, suspended.account) == (phase, account)
    assert suspended.data == {"account_status": "suspended", "previous_account_status": "active"}


@pytest.mark.parametrize("account_status", [AccountStatus.SUSPENDED, AccountStatus.PAUSED])
def test_nothing_of_a_suspended_or_paused_account_is_claimed(
    account_status, account, bot, reviewer_actor
):
    # given two accounts with a ready phase each; one is suspended or paused
    phase = WarmupPhaseFactory(account=account, content_assigned=True)
    other = first_phase(AccountFactory())
    tick()
    if account_status == AccountStatus.SUSPENDED:
        account_suspend(account=account, actor=reviewer_actor, note="Platform ban")
    else:
        account_pause(account=account, actor=reviewer_actor, note="Owner asked to wait")

    # when bots ask for work, only the other account's phase is handed out
    assert phase_claim(bot=bot).pk == other.pk
    assert phase_claim(bot=bot) is None
    assert reload(phase).status == S.CONTENT_ASSIGNED


@pytest.mark.parametrize("method", NEEDS_ACTIVE_ACCOUNT)
def test_resume_and_retry_on_a_suspended_account_are_refused(method, account, bot, reviewer_actor):
    phase = WarmupPhaseFactory(
        account=account, bot=bot, in_review=True, category=FailureCategory.ACCOUNT_SUSPENDED
    )
    before, last_id = stored(phase), last_log_id()

    with pytest.raises(NotClaimable) as raised:
        resolve(method, phase, reviewer_actor)

    assert raised.value.code == "account_not_active"
    account.refresh_from_db()
    assert raised.value.message == ACCOUNT_NOT_ACTIVE.format(account=account, status="suspended")
    assert stored(phase) == before
    assert logs_after(last_id) == []


def test_a_lost_account_can_still_be_skipped(account, bot, reviewer_actor):
    phase = WarmupPhaseFactory(
        account=account, bot=bot, in_review=True, category=FailureCategory.ACCOUNT_SUSPENDED
    )

    review_skip(
        phase_id=phase.pk, reason_code=ReasonCode.ACCOUNT_LOST, note=NOTE, actor=reviewer_actor
    )

    assert reload(phase).completion_method == CompletionMethod.SKIPPED


def test_reactivation_is_logged_and_makes_the_account_claimable_again(
    account, bot, reviewer, reviewer_actor
):
    # given an account suspended by a failure, its phase in review
    phase = WarmupPhaseFactory(
        account=account, bot=bot, in_review=True, category=FailureCategory.ACCOUNT_SUSPENDED
    )
    last_id = last_log_id()

    # when a reviewer reactivates it and retries the phase
    account_reactivate(account=account, actor=reviewer_actor, note="Appeal accepted")
    reactivated = one_new_log(last_id)
    review_retry(phase_id=phase.pk, reason_code=ReasonCode.OTHER, note=NOTE, actor=reviewer_actor)

    # then the account is active, the event is logged and a bot gets the phase
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert reactivated.action == ReviewAction.ACCOUNT_REACTIVATED
    assert (reactivated.actor_type, reactivated.actor_user) == (ActorType.USER, reviewer)
    assert reactivated.note == "Appeal accepted"
    assert reactivated.phase == phase
    assert reactivated.data == {
        "account_status": "active",
        "previous_account_status": "suspended",
    }
    assert phase_claim(bot=bot).pk == phase.pk


def test_a_paused_account_is_claimable_again_after_reactivation(account, bot, reviewer_actor):
    phase = WarmupPhaseFactory(account=account, content_assigned=True)
    account_pause(account=account, actor=reviewer_actor, note="Holiday")
    assert phase_claim(bot=bot) is None

    account_reactivate(account=account, actor=reviewer_actor, note="Back")

    assert phase_claim(bot=bot).pk == phase.pk


def test_reactivation_needs_a_note_and_a_suspended_or_paused_account(account, bot, reviewer_actor):
    last_id = last_log_id()

    with pytest.raises(InvalidTransition) as already:
        account_reactivate(account=account, actor=reviewer_actor, note="Why not")
    account_suspend(account=account, actor=reviewer_actor, note="Ban")
    with pytest.raises(InvalidInput, match=NOTE_REQUIRED):
        account_reactivate(account=account, actor=reviewer_actor, note=" ")

    assert already.value.message == ACCOUNT_ALREADY_ACTIVE.format(account=account)
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    assert [log.action for log in logs_after(last_id)] == [ReviewAction.ACCOUNT_SUSPENDED]


def test_system_and_bot_actors_are_recorded_as_such(account, bot, clock):
    # the bot's escalation is the bot's; the scheduler's escalation rise is the system's
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    clock.shift(timedelta(hours=1))
    tick()

    escalated, raised = ReviewLog.objects.filter(phase=phase).order_by("id")
    assert (escalated.actor_type, escalated.actor_bot, escalated.actor_user) == (
        ActorType.BOT,
        bot,
        None,
    )
    assert (raised.actor_type, raised.actor_bot, raised.actor_user) == (
        ActorType.SYSTEM,
        None,
        None,
    )


def test_a_hold_starts_at_level_0_with_a_fresh_review_clock(account, bot, reviewer_actor, clock):
    phase = WarmupPhaseFactory(account=account, content_assigned=True)

    held = review_hold(phase_id=phase.pk, note="looks odd", actor=reviewer_actor)

    stored = reload(held)
    assert stored.escalation_level == 0
    assert stored.review_required_since == timezone.now()


@pytest.mark.parametrize("account_status", ["paused", "suspended"])
def test_an_item_of_a_stopped_account_can_still_be_completed_by_hand(
    account, bot, reviewer_actor, account_status
):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    Account.objects.filter(pk=account.pk).update(status=account_status)

    done = review_complete(
        phase_id=phase.pk, reason_code="other", note="done by hand", actor=reviewer_actor
    )

    assert done.status == PhaseStatus.COMPLETED


def test_a_tick_with_no_escalation_thresholds_raises_nothing(account, bot, settings, clock):
    settings.WARMUP_ESCALATION_THRESHOLDS = []
    WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    clock.shift(timedelta(days=3))

    assert tick().escalated == 0


def test_holding_an_account_holds_its_active_phase_not_its_first(
    account, bot, content_pool, clock, reviewer_actor
):
    first = WarmupPhaseFactory(account=account, bot=bot, completed=True)
    clock.shift(timedelta(days=2))
    tick()
    active = account.phases.get(order=first.order + 1)
    assert active.status == PhaseStatus.CONTENT_ASSIGNED

    held = review_hold_account(account=account, note="looks odd", actor=reviewer_actor)

    assert held.pk == active.pk
    assert reload(active).status == PhaseStatus.REVIEW_REQUIRED
    assert reload(first).status == PhaseStatus.COMPLETED


def test_holding_an_account_leaves_other_accounts_alone(bot, reviewer_actor):
    # the other account's active phase (in review) comes first in the table
    other = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    account = AccountFactory()
    mine = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    before = stored(other)

    held = review_hold_account(account=account, note="looks odd", actor=reviewer_actor)

    assert held.pk == mine.pk
    assert reload(mine).status == S.REVIEW_REQUIRED
    assert stored(other) == before


@pytest.mark.parametrize(
    ("start", "why", "status"),
    [
        ({"in_review": True}, "its phase is in review already", S.REVIEW_REQUIRED),
        ({"completed": True}, "no phase of its plan is active", ""),
    ],
)
def test_holding_an_account_with_nothing_to_hold_says_why(
    start, why, status, account, bot, reviewer_actor
):
    WarmupPhaseFactory(account=account, bot=bot, **start)
    last_id = last_log_id()

    with pytest.raises(InvalidTransition) as refused:
        review_hold_account(account=account, note="looks odd", actor=reviewer_actor)

    assert refused.value.message == NOTHING_TO_HOLD.format(account=account, why=why)
    assert refused.value.current_status == status
    assert logs_after(last_id) == []


# --- What each one-item action returns ---------------------------------------------------


def as_returned(phase) -> dict:
    return {field.attname: getattr(phase, field.attname) for field in phase._meta.concrete_fields}


@pytest.mark.parametrize(
    ("start", "act"),
    [
        (
            "in_review",
            lambda p, who, actor: review_assign(phase_id=p.pk, assignee=who, actor=actor),
        ),
        ("in_review", lambda p, who, actor: review_comment(phase_id=p.pk, note=NOTE, actor=actor)),
        (
            "in_review",
            lambda p, who, actor: review_recategorize(
                phase_id=p.pk, category=FailureCategory.PROXY_ERROR, note=NOTE, actor=actor
            ),
        ),
        (
            "in_review",  # to the category it has: no change, the item as it is
            lambda p, who, actor: review_recategorize(
                phase_id=p.pk, category=p.last_failure_category, note=NOTE, actor=actor
            ),
        ),
        ("in_progress", lambda p, who, actor: review_hold(phase_id=p.pk, note=NOTE, actor=actor)),
        (
            "in_progress",
            lambda p, who, actor: review_hold_account(account=p.account, note=NOTE, actor=actor),
        ),
    ],
)
def test_a_one_item_action_returns_the_item_as_stored_after_it(
    start, act, account, bot, reviewer, reviewer_actor
):
    phase = WarmupPhaseFactory(account=account, bot=bot, **{start: True})

    returned = act(phase, reviewer, reviewer_actor)

    assert returned.pk == phase.pk
    assert as_returned(returned) == stored(phase)
