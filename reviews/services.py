"""Review actions: what reviewers and the scheduler do to items in the review queue.

Each action locks the phase, checks, writes the change and exactly one ReviewLog row in one
transaction. Resolutions need a reason code and a non-blank note, and record the time the item
spent in review.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial, reduce

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config import metrics
from reviews import events
from reviews.models import ResolutionMethod
from reviews.notifications import Escalation, notify_escalations
from reviews.permissions import can_resolve_reviews
from reviews.validation import require_reason_code
from warmup.actors import Actor
from warmup.errors import (
    ACCOUNT_NOT_ACTIVE,
    ASSIGNEE_CANNOT_RESOLVE,
    NOT_IN_REVIEW,
    NOTHING_TO_HOLD,
    RETRY_NEEDS_CONTENT,
    UNKNOWN_RESOLUTION,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotClaimable,
)
from warmup.models import (
    ACTIVE_STATUSES,
    AccountStatus,
    AttemptOutcome,
    CompletionMethod,
    PhaseAttempt,
    PhaseStatus,
    WarmupPhase,
)
from warmup.services.phases import lock_phase, unlock_next_phase
from warmup.services.scheduling import process_in_batches
from warmup.state import TRANSITIONS, check_transition, completion, enter_review, leave_review
from warmup.validation import require_note, validate_category

S = PhaseStatus


# --- Helpers ---------------------------------------------------------------------------


def _lock_in_review(phase_id: int, *, target: str | None = None) -> WarmupPhase:
    phase = lock_phase(phase_id)
    if phase.status != S.REVIEW_REQUIRED:
        raise InvalidTransition(
            NOT_IN_REVIEW.format(phase_id=phase_id, status=phase.status),
            current_status=phase.status,
            target_status=target or "",
            phase_id=phase_id,
        )
    return phase


# --- Queue housekeeping: assign, comment, recategorise ------------------------------------


@transaction.atomic
def review_assign(*, phase_id: int, assignee, actor: Actor) -> WarmupPhase:
    """Assign the item to `assignee` (a user who may resolve it) or unassign it (None).
    No change, no log row."""
    if assignee is not None and not can_resolve_reviews(assignee):
        raise InvalidInput(ASSIGNEE_CANNOT_RESOLVE.format(user=assignee), field="user")
    phase = _lock_in_review(phase_id)
    new_id = assignee.pk if assignee is not None else None
    previous_id = phase.review_assignee_id
    if new_id == previous_id:
        return phase
    phase.review_assignee = assignee
    WarmupPhase.objects.filter(pk=phase.pk).update(review_assignee=assignee)
    events.assigned(phase=phase, actor=actor, previous_assignee_id=previous_id)
    return phase


@transaction.atomic
def review_comment(*, phase_id: int, note: str, actor: Actor) -> WarmupPhase:
    """Add a note to the phase's review history (any status)."""
    note = require_note(note)
    phase = lock_phase(phase_id)
    events.commented(phase=phase, actor=actor, note=note)
    return phase


@transaction.atomic
def review_recategorize(*, phase_id: int, category: str, note: str, actor: Actor) -> WarmupPhase:
    """Correct the failure category of an item in review; analytics use the corrected one."""
    validate_category(category)
    note = require_note(note)
    phase = _lock_in_review(phase_id)
    previous = phase.last_failure_category
    if previous == category:
        return phase
    phase.last_failure_category = category
    WarmupPhase.objects.filter(pk=phase.pk).update(last_failure_category=category)
    events.recategorized(phase=phase, actor=actor, previous_category=previous, note=note)
    return phase


# --- Resolutions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """Where a resolution takes a phase, what it needs first, and what it writes."""

    to_status: str
    needs_active_account: bool  # the phase goes back to bots: a paused account would block it
    fields: Callable[[datetime], dict]  # what the move writes besides leaving review, at `now`
    needs_content: bool = False  # the phase keeps its content: it must have some


RESOLUTIONS = {
    # Back to automation: available again, retry count reset, content re-assigned.
    ResolutionMethod.RESUME: Resolution(
        S.AVAILABLE,
        needs_active_account=True,
        fields=lambda now: {
            "retry_count": 0,
            "content": None,
            "next_attempt_at": None,
            "available_at": now,
        },
    ),
    # Claimable at once with the same content and a fresh retry budget (the reviewer fixed the
    # cause; a first blip afterwards should be retried, not escalated).
    ResolutionMethod.RETRY: Resolution(
        S.CONTENT_ASSIGNED,
        needs_active_account=True,
        needs_content=True,
        fields=lambda now: {"next_attempt_at": now, "retry_count": 0},
    ),
    ResolutionMethod.COMPLETE: Resolution(
        S.COMPLETED,
        needs_active_account=False,
        fields=lambda now: completion(now=now, method=CompletionMethod.MANUAL),
    ),
    ResolutionMethod.SKIP: Resolution(
        S.COMPLETED,
        needs_active_account=False,
        fields=lambda now: completion(now=now, method=CompletionMethod.SKIPPED),
    ),
}


def resolution_refusal(phase: WarmupPhase, method: str) -> DomainError | None:
    """Why `method` cannot resolve `phase` as it is now: the error the resolution would raise,
    or None. The services raise it; the admin shows it beside a disabled button."""
    rule = RESOLUTIONS[method]
    if phase.status != S.REVIEW_REQUIRED:
        return InvalidTransition(
            NOT_IN_REVIEW.format(phase_id=phase.pk, status=phase.status),
            current_status=phase.status,
            target_status=rule.to_status,
            phase_id=phase.pk,
        )
    if rule.needs_content and phase.template.requires_content and phase.content_id is None:
        # Held before the scheduler assigned content: a bot would get a phase with nothing
        # to post. Resume hands it back to the scheduler instead.
        return InvalidTransition(
            RETRY_NEEDS_CONTENT.format(phase_id=phase.pk),
            current_status=phase.status,
            target_status=rule.to_status,
            phase_id=phase.pk,
        )
    if rule.needs_active_account and phase.account.status != AccountStatus.ACTIVE:
        return NotClaimable(
            ACCOUNT_NOT_ACTIVE.format(account=phase.account, status=phase.account.status),
            account_status=phase.account.status,
        )
    return None


def refusal_reason(exc: DomainError) -> str:
    """A refused review action in a few words that hold for many items at once (no ids), for
    summaries of bulk actions: "no longer in review", "the account is suspended: ..."."""
    if isinstance(exc, NotClaimable):
        return f"the account is {exc.context.get('account_status')}: reactivate it first"
    if isinstance(exc, InvalidTransition) and exc.current_status not in ("", S.REVIEW_REQUIRED):
        return f"no longer in review: it is {S(exc.current_status).label.lower()}"
    if exc.message == RETRY_NEEDS_CONTENT.format(phase_id=exc.context.get("phase_id")):
        return "it has no content to retry with: resume automation instead"
    return exc.message


def resolution_snapshot(phase: WarmupPhase, *, now: datetime) -> dict:
    """What a resolution's log row records of the item as it was in review: its status, time
    in review, level and retry count, and what resolving clears (assignee, a resume's content)
    so an undo can give it back."""
    return {
        "from_status": phase.status,
        "time_in_review": now - phase.review_required_since,
        "escalation_level": phase.escalation_level,
        "retry_count": phase.retry_count,
        "assignee_id": phase.review_assignee_id,
        "content_id": phase.content_id,
    }


def _resolve(
    *, phase_id: int, method: str, reason_code: str, note: str, actor: Actor
) -> WarmupPhase:
    reason_code = require_reason_code(reason_code)
    note = require_note(note)
    to_status = RESOLUTIONS[method].to_status
    phase = _lock_in_review(phase_id, target=to_status)
    check_transition(phase, to_status)
    refusal = resolution_refusal(phase, method)
    if refusal is not None:
        raise refusal
    now = timezone.now()
    before = resolution_snapshot(phase, now=now)
    leave_review(phase, to_status, **RESOLUTIONS[method].fields(now))
    events.resolved(
        phase=phase, actor=actor, method=method, reason_code=reason_code, note=note, **before
    )
    transaction.on_commit(partial(metrics.observe_resolution, method, before["time_in_review"]))
    if to_status == S.COMPLETED:
        unlock_next_phase(phase, now=now)
    return phase


@transaction.atomic
def review_resume(*, phase_id: int, reason_code: str, note: str, actor: Actor) -> WarmupPhase:
    """Hand the phase back to automation: available again, retry count reset, content
    re-assigned by the scheduler."""
    return _resolve(
        phase_id=phase_id,
        method=ResolutionMethod.RESUME,
        reason_code=reason_code,
        note=note,
        actor=actor,
    )


@transaction.atomic
def review_retry(*, phase_id: int, reason_code: str, note: str, actor: Actor) -> WarmupPhase:
    """Make the phase claimable at once with the same content, with a fresh retry budget (the
    reviewer fixed the cause; a first blip afterwards should be retried, not escalated)."""
    return _resolve(
        phase_id=phase_id,
        method=ResolutionMethod.RETRY,
        reason_code=reason_code,
        note=note,
        actor=actor,
    )


@transaction.atomic
def review_complete(*, phase_id: int, reason_code: str, note: str, actor: Actor) -> WarmupPhase:
    """Mark the phase done by hand; the account's next phase unlocks after its delay."""
    return _resolve(
        phase_id=phase_id,
        method=ResolutionMethod.COMPLETE,
        reason_code=reason_code,
        note=note,
        actor=actor,
    )


@transaction.atomic
def review_skip(*, phase_id: int, reason_code: str, note: str, actor: Actor) -> WarmupPhase:
    """Skip the phase (completed, marked skipped); the account's plan goes on."""
    return _resolve(
        phase_id=phase_id,
        method=ResolutionMethod.SKIP,
        reason_code=reason_code,
        note=note,
        actor=actor,
    )


RESOLVERS = {
    ResolutionMethod.RESUME: review_resume,
    ResolutionMethod.RETRY: review_retry,
    ResolutionMethod.COMPLETE: review_complete,
    ResolutionMethod.SKIP: review_skip,
}


def review_resolve(
    *, phase_id: int, method: str, reason_code: str, note: str, actor: Actor
) -> WarmupPhase:
    """Dispatch to the resolution named by `method` (resume, retry, complete, skip)."""
    resolver = RESOLVERS.get(method)
    if resolver is None:
        raise InvalidInput(
            UNKNOWN_RESOLUTION.format(value=method, choices=", ".join(ResolutionMethod.values)),
            field="action",
        )
    return resolver(phase_id=phase_id, reason_code=reason_code, note=note, actor=actor)


# --- Hold and escalation -----------------------------------------------------------------


@transaction.atomic
def review_hold(*, phase_id: int, note: str, actor: Actor) -> WarmupPhase:
    """Put an active phase on hold for review; a bot holding it loses its lease."""
    note = require_note(note)
    phase = lock_phase(phase_id)
    check_transition(phase, S.REVIEW_REQUIRED)
    now = timezone.now()
    from_status = phase.status
    lease_token = phase.lease_token
    enter_review(phase, now=now)
    if lease_token is not None:
        PhaseAttempt.objects.filter(phase=phase, lease_token=lease_token).update(
            finished_at=now, outcome=AttemptOutcome.INTERRUPTED, reason=note
        )
    events.held(phase=phase, actor=actor, from_status=from_status, note=note)
    return phase


def review_hold_account(*, account, note: str, actor: Actor) -> WarmupPhase:
    """Hold the account's active phase for review (see `review_hold`). InvalidTransition when
    the account has none to hold: it is in review already, or no phase is active."""
    holdable = [src for (src, dst) in TRANSITIONS if dst == S.REVIEW_REQUIRED]
    active = (
        WarmupPhase.objects.filter(account=account, status__in=ACTIVE_STATUSES)
        .values_list("pk", "status")
        .first()
    )
    if active is None or active[1] not in holdable:
        why = "its phase is in review already" if active else "no phase of its plan is active"
        raise InvalidTransition(
            NOTHING_TO_HOLD.format(account=account, why=why),
            current_status=active[1] if active else "",
            target_status=S.REVIEW_REQUIRED,
        )
    return review_hold(phase_id=active[0], note=note, actor=actor)


def escalation_level_for(age, thresholds=None) -> int:
    """How many thresholds an item `age` long in review has passed."""
    thresholds = settings.WARMUP_ESCALATION_THRESHOLDS if thresholds is None else thresholds
    return sum(1 for threshold in thresholds if age >= threshold)


def escalation_due(now: datetime, thresholds) -> Q:
    """Items in review whose level must rise at `now`: level k below the top, in review at
    least as long as the (k+1)-th threshold. One equality per level, so PostgreSQL reads each
    as a range of the review queue's index (phase_review_queue_idx) and finds nothing when
    nothing is due, however many items wait in review."""
    return reduce(
        operator.or_,
        (
            Q(escalation_level=level, review_required_since__lte=now - threshold)
            for level, threshold in enumerate(sorted(thresholds))
        ),
    )


def _raise_levels(
    phases: list[WarmupPhase], *, now: datetime, thresholds
) -> tuple[int, list[Escalation]]:
    """Raise each phase's escalation level to what its time in review has reached: one log
    row per level crossed (one INSERT), one UPDATE per level reached. Returns how many levels
    rose and the escalations to notify. Caller holds the row locks."""
    targets = {
        phase.pk: escalation_level_for(now - phase.review_required_since, thresholds)
        for phase in phases
    }
    rising = [phase for phase in phases if targets[phase.pk] > phase.escalation_level]
    events.escalations_raised(
        [
            (phase, level)
            for phase in rising
            for level in range(phase.escalation_level + 1, targets[phase.pk] + 1)
        ],
        at=now,
    )
    for target in sorted({targets[phase.pk] for phase in rising}):
        WarmupPhase.objects.filter(
            pk__in=[phase.pk for phase in rising if targets[phase.pk] == target]
        ).update(escalation_level=target)
    raised = sum(targets[phase.pk] - phase.escalation_level for phase in rising)
    for phase in rising:
        phase.escalation_level = targets[phase.pk]
    return raised, [Escalation(phase_id=phase.pk, level=phase.escalation_level) for phase in rising]


def reviews_escalate_due(*, now: datetime) -> int:
    """Raise the escalation level of items by their time in review; each level crossed is
    logged once. Side effects: after each batch commits, one notification digest for the items
    of that batch that rose (one per tick unless more than a batch rose).
    Returns the number of levels raised."""
    thresholds = settings.WARMUP_ESCALATION_THRESHOLDS
    if not thresholds:
        return 0
    due = (
        WarmupPhase.objects.filter(status=S.REVIEW_REQUIRED)
        .filter(escalation_due(now, thresholds))
        .select_related("account")
    )
    risen: list[Escalation] = []

    def escalate(phases):
        # A batch at once, or (when the batch failed) one of its rows at a time.
        raised, escalations = _raise_levels(phases, now=now, thresholds=thresholds)
        risen.extend(escalations)
        return {"raised": raised}

    def notify_when_committed():
        # Per batch: a batch that committed is notified even if a later one fails.
        if risen:
            transaction.on_commit(partial(notify_escalations, list(risen)))
            risen.clear()

    return process_in_batches(
        due,
        escalate,
        what="Raising an escalation level",
        finish=notify_when_committed,
    )["raised"]
