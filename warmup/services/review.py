"""Review actions: what reviewers and the scheduler do to items in the review queue.

Each action locks the phase, checks, writes the change and exactly one ReviewLog row in one
transaction. Resolutions need a reason code and a non-blank note, and record the time the item
spent in review.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial, reduce

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from reviews.permissions import can_resolve_reviews
from warmup.domain.actors import Actor
from warmup.domain.choices import HELD
from warmup.domain.errors import (
    ASSIGNEE_CANNOT_RESOLVE,
    NOT_IN_REVIEW,
    NOTHING_TO_HOLD,
    PHASE_NOT_FOUND,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    Refusal,
)
from warmup.domain.signatures import signature_of
from warmup.domain.validation import require_note, validate_category
from warmup.lifecycle import review_log
from warmup.lifecycle.state import TRANSITIONS, check_transition, enter_review_many
from warmup.models import (
    ACTIVE_STATUSES,
    AttemptOutcome,
    PhaseAttempt,
    PhaseStatus,
    WarmupPhase,
)
from warmup.services.bot_work import phase_lock
from warmup.services.notifications import Escalation, notify_escalations
from warmup.services.progression import process_in_batches
from warmup.services.signatures import signatures_store

S = PhaseStatus


# --- Helpers ---------------------------------------------------------------------------


def not_in_review(phase: WarmupPhase, *, target: str = "") -> InvalidTransition:
    """The refusal of a review action on a phase that is not (or no longer) in review."""
    return InvalidTransition(
        NOT_IN_REVIEW.format(phase_id=phase.pk, status=phase.status),
        refusal=Refusal.NOT_IN_REVIEW,
        current_status=phase.status,
        target_status=target,
        phase_id=phase.pk,
        status_label=S(phase.status).label.lower(),
    )


def _lock_in_review(phase_id: int) -> WarmupPhase:
    phase = phase_lock(phase_id)
    if phase.status != S.REVIEW_REQUIRED:
        raise not_in_review(phase)
    return phase


# --- Queue housekeeping: assign, comment, recategorise ------------------------------------


@dataclass
class AssignResult:
    """What an assignment did: the items it changed, why it left others alone (each a
    DomainError with a refusal code), and the items as they are now, by id."""

    changed: list[int] = field(default_factory=list)
    unchanged: dict[int, DomainError] = field(default_factory=dict)
    phases: dict[int, WarmupPhase] = field(default_factory=dict)


@transaction.atomic
def reviews_assign(*, phase_ids: list[int], assignee, actor: Actor) -> AssignResult:
    """Assign the items `phase_ids` to `assignee` (a user who may resolve them) or unassign
    them (None), in one transaction; an item not in review (or gone) is left, with why, and
    one already so assigned is no change.

    Side effects: one UPDATE of the items that change, one ReviewLog row each."""
    if assignee is not None and not can_resolve_reviews(assignee):
        raise InvalidInput(ASSIGNEE_CANNOT_RESOLVE.format(user=assignee), field="user")
    locked = list(
        WarmupPhase.objects.select_for_update(of=("self",))
        .select_related("template", "account")
        .filter(pk__in=phase_ids)
        .order_by("pk")
    )
    result = AssignResult(phases={phase.pk: phase for phase in locked})
    for pk in phase_ids:
        if pk not in result.phases:
            result.unchanged[pk] = NotFound(
                PHASE_NOT_FOUND.format(phase_id=pk), refusal=Refusal.MISSING, phase_id=pk
            )
    new_id = assignee.pk if assignee is not None else None
    moving = []
    for phase in locked:
        if phase.status != S.REVIEW_REQUIRED:
            result.unchanged[phase.pk] = not_in_review(phase)
        elif phase.review_assignee_id != new_id:
            moving.append(phase)
    if moving:
        WarmupPhase.objects.filter(pk__in=[phase.pk for phase in moving]).update(
            review_assignee=assignee
        )
        for phase in moving:
            previous_id = phase.review_assignee_id
            phase.review_assignee = assignee
            review_log.assigned(phase=phase, actor=actor, previous_assignee_id=previous_id)
    result.changed = [phase.pk for phase in moving]
    return result


def review_assign(*, phase_id: int, assignee, actor: Actor) -> WarmupPhase:
    """Assign one item (`reviews_assign` of one); raises why it may not (NotFound,
    InvalidTransition, InvalidInput). No change, no log row."""
    result = reviews_assign(phase_ids=[phase_id], assignee=assignee, actor=actor)
    if phase_id in result.unchanged:
        raise result.unchanged[phase_id]
    return result.phases[phase_id]


@transaction.atomic
def review_comment(*, phase_id: int, note: str, actor: Actor) -> WarmupPhase:
    """Add a note to the phase's review history (any status)."""
    note = require_note(note)
    phase = phase_lock(phase_id)
    review_log.commented(phase=phase, actor=actor, note=note)
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
    review_log.recategorized(phase=phase, actor=actor, previous_category=previous, note=note)
    return phase


# --- Hold and escalation -----------------------------------------------------------------


@transaction.atomic
def review_hold(*, phase_id: int, note: str, actor: Actor) -> WarmupPhase:
    """Put an active phase on hold for review; a bot holding it loses its lease.

    The hold is the item's last failure from now on, as a failure of its own: no category
    (the queue's `held`), the note as its reason, now as its time. A failure before it stays
    in the phase's attempts."""
    note = require_note(note)
    phase = phase_lock(phase_id)
    check_transition(phase, S.REVIEW_REQUIRED)
    now = timezone.now()
    from_status = phase.status
    lease_token = phase.lease_token
    signature = signature_of(category=HELD, phase_type=phase.phase_type, reason=note)
    signatures_store([signature], now=now)
    held_fields = {
        "review_signature_id": signature.key,
        "last_failure_category": "",
        "last_failure_reason": note,
        "last_failure_details": {},
        "last_failure_at": now,
    }
    enter_review_many([phase], now=now, per_row={phase.pk: held_fields})
    if lease_token is not None:
        PhaseAttempt.objects.filter(phase=phase, lease_token=lease_token).update(
            finished_at=now, outcome=AttemptOutcome.INTERRUPTED, reason=note
        )
    review_log.held(phase=phase, actor=actor, from_status=from_status, note=note)
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
    review_log.escalations_raised(
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
