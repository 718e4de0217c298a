"""Resolutions: the one path that takes review items out of the queue, for one item (the item
page, the review API, the demo) and for many (the console's bulk actions, resolve_reviews).

A resolution is a batch: one transaction in which the rows are locked (with SKIP LOCKED on
PostgreSQL when there are several: a row a bot or a reviewer holds right now is reported as
busy, never waited on), every row is checked by the rules below (RESOLUTIONS,
`resolution_refusal`, the transitions table), and the allowed ones move in one UPDATE per
starting status with their ReviewLog rows in one INSERT, each naming the batch id. A batch is
all or nothing, so an interrupted run leaves nothing half-resolved, and every batch can be
undone (`batch_undo`, `resolve_reviews --undo BATCH`).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from config import metrics
from reviews.models import ReviewLog
from reviews.permissions import can_resolve_reviews as can_resolve
from warmup.domain.actors import Actor
from warmup.domain.choices import RESOLUTION_ACTIONS, ResolutionMethod, ReviewAction
from warmup.domain.errors import (
    ACCOUNT_NOT_ACTIVE,
    BATCH_ITEM_BUSY,
    PHASE_NOT_FOUND,
    RETRY_NEEDS_CONTENT,
    UNDO_ACTED_SINCE,
    UNDO_CLAIMED_SINCE,
    UNDO_IN_REVIEW,
    UNDO_MOVED_ON,
    UNDO_NEXT_BUSY,
    UNDO_NEXT_CLAIMED,
    UNDO_NEXT_MOVED_ON,
    UNDO_NOT_IN_BATCH,
    UNKNOWN_RESOLUTION,
    Busy,
    CannotUndo,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotClaimable,
    NotFound,
    Refusal,
)
from warmup.domain.validation import require_note, require_reason_code
from warmup.lifecycle import review_log
from warmup.lifecycle.state import back_to_review_many, completion, leave_review_many, relock_many
from warmup.models import (
    AccountStatus,
    CompletionMethod,
    PhaseAttempt,
    PhaseStatus,
    PhaseTemplate,
    WarmupPhase,
)
from warmup.selectors.returns import standing_resolutions
from warmup.services.bot_work import phases_unlock_next
from warmup.services.review import not_in_review

S = PhaseStatus


# --- The rules ---------------------------------------------------------------------------


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
    or None. A batch leaves such a phase out; the item page shows it beside a disabled
    button."""
    rule = RESOLUTIONS[method]
    if phase.status != S.REVIEW_REQUIRED:
        return not_in_review(phase, target=rule.to_status)
    if rule.needs_content and phase.template.requires_content and phase.content_id is None:
        # Held before the scheduler assigned content: a bot would get a phase with nothing
        # to post. Resume hands it back to the scheduler instead.
        return InvalidTransition(
            RETRY_NEEDS_CONTENT.format(phase_id=phase.pk),
            refusal=Refusal.NO_CONTENT,
            current_status=phase.status,
            target_status=rule.to_status,
            phase_id=phase.pk,
        )
    if rule.needs_active_account and phase.account.status != AccountStatus.ACTIVE:
        return NotClaimable(
            ACCOUNT_NOT_ACTIVE.format(account=phase.account, status=phase.account.status),
            refusal=Refusal.ACCOUNT_NOT_ACTIVE,
            account_status=phase.account.status,
        )
    return None


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


@dataclass
class BatchResult:
    """What one batch did: the phases it changed, and why it left the others alone (each a
    DomainError with a refusal code; `refusal_words` says it for a summary)."""

    batch: uuid.UUID | None = None
    changed: list[int] = field(default_factory=list)
    unchanged: dict[int, DomainError] = field(default_factory=dict)  # phase id -> why
    moved: list[WarmupPhase] = field(default_factory=list)  # the changed phases, as they are now


# What a batch reads of each phase it locks: the checks of a resolution, the snapshot its log
# row keeps, the move itself and the unlock of the next phase. Reading only these (not the
# failure details, the lease, the whole template) halves the cost of a batch's biggest query.
LOCKED_FIELDS = (
    "id",
    "status",
    "order",
    "account_id",
    "template_id",
    "content_id",
    "review_required_since",
    "escalation_level",
    "retry_count",
    "review_assignee_id",
    "last_failure_category",
    "review_signature_id",
    "account__platform",
    "account__username",
    "account__status",
)


def _lock(phase_ids: list[int]) -> tuple[list[WarmupPhase], dict[int, DomainError]]:
    """Lock the phases that exist; say why the others are left out. Several are locked with
    SKIP LOCKED (a bulk run never waits on a row someone holds); one waits for its lock, as a
    reviewer's click should rather than fail because a bot's statement holds the row."""
    rows = WarmupPhase.objects.select_for_update(skip_locked=len(phase_ids) > 1, of=("self",))
    locked = list(
        rows.select_related("account")
        # The plan steps (a handful) in one small query, not joined and built once per row.
        .prefetch_related(Prefetch("template", PhaseTemplate.objects.only("requires_content")))
        .only(*LOCKED_FIELDS)
        .filter(pk__in=phase_ids)
        .order_by("pk")
    )
    found = {phase.pk for phase in locked}
    left = [pk for pk in phase_ids if pk not in found]
    existing = set(WarmupPhase.objects.filter(pk__in=left).values_list("pk", flat=True))
    why: dict[int, DomainError] = {}
    for pk in left:
        if pk in existing:
            why[pk] = Busy(BATCH_ITEM_BUSY, refusal=Refusal.BUSY, phase_id=pk)
        else:
            why[pk] = NotFound(
                PHASE_NOT_FOUND.format(phase_id=pk), refusal=Refusal.MISSING, phase_id=pk
            )
    return locked, why


def validate_resolution(*, method: str, reason_code: str, note: str) -> tuple[str, str]:
    """Check what a resolution will write before it selects anything (InvalidInput if bad)."""
    if method not in RESOLUTIONS:
        raise InvalidInput(
            UNKNOWN_RESOLUTION.format(value=method, choices=", ".join(RESOLUTIONS)),
            field="action",
        )
    return require_reason_code(reason_code), require_note(note)


@transaction.atomic
def reviews_resolve(
    *,
    phase_ids: list[int],
    method: str,
    reason_code: str,
    note: str,
    actor: Actor,
    batch: uuid.UUID | None = None,
) -> BatchResult:
    """Resolve the phases `phase_ids` with `method` (resume, retry, complete, skip) in one
    transaction, as batch `batch` (a new id when None). Phases that may not be resolved so
    are left as they are, each with its refusal in the result.

    Side effects: the phases move, one ReviewLog row each (with the batch id), and for
    complete and skip the accounts' next phases unlock; after commit, the resolution metrics."""
    reason_code, note = validate_resolution(method=method, reason_code=reason_code, note=note)
    batch = batch or uuid.uuid4()
    rule = RESOLUTIONS[method]
    locked, unchanged = _lock(phase_ids)
    allowed = []
    for phase in locked:
        refusal = resolution_refusal(phase, method)
        if refusal is None:
            allowed.append(phase)
        else:
            unchanged[phase.pk] = refusal
    now = timezone.now()
    before = [{"phase": phase, **resolution_snapshot(phase, now=now)} for phase in allowed]
    if allowed:
        leave_review_many(allowed, rule.to_status, last_resolved_at=now, **rule.fields(now))
        review_log.resolved_many(
            [
                {
                    **fields,
                    "actor": actor,
                    "method": method,
                    "reason_code": reason_code,
                    "note": note,
                    "at": now,
                }
                for fields in before
            ],
            batch=batch,
        )
        if rule.to_status == S.COMPLETED:
            phases_unlock_next(allowed, now=now)
        waits = [fields["time_in_review"] for fields in before]
        transaction.on_commit(lambda: [metrics.observe_resolution(method, w) for w in waits])
    return BatchResult(
        batch=batch, changed=[phase.pk for phase in allowed], unchanged=unchanged, moved=allowed
    )


def review_resolve(
    *, phase_id: int, method: str, reason_code: str, note: str, actor: Actor
) -> WarmupPhase:
    """Resolve one item: a batch of one. Raises the refusal (InvalidTransition, NotClaimable,
    NotFound, InvalidInput) when it may not be resolved so; returns the phase as it is now."""
    result = reviews_resolve(
        phase_ids=[phase_id], method=method, reason_code=reason_code, note=note, actor=actor
    )
    if phase_id in result.unchanged:
        raise result.unchanged[phase_id]
    return result.moved[0]


BATCH_SIZE = 500  # items per transaction of a bulk resolution


def _in_batches(step: Callable, phase_ids: list[int], *, batch, size: int) -> BatchResult:
    """`step(phase_ids=..., batch=...)` over `phase_ids`, `size` at a time (each a transaction
    of its own), all under one batch id; the results added up."""
    total = BatchResult(batch=batch or uuid.uuid4())
    for start in range(0, len(phase_ids), size):
        result = step(phase_ids=phase_ids[start : start + size], batch=total.batch)
        total.changed += result.changed
        total.unchanged.update(result.unchanged)
        total.moved += result.moved
    return total


def reviews_resolve_in_batches(
    *,
    phase_ids: list[int],
    method: str,
    reason_code: str,
    note: str,
    actor: Actor,
    batch: uuid.UUID | None = None,
    size: int = BATCH_SIZE,
) -> BatchResult:
    """`reviews_resolve` over `phase_ids`, `size` at a time (each a transaction of its own), all
    under one batch id: what the console's bulk actions and group resolutions run."""
    validate_resolution(method=method, reason_code=reason_code, note=note)
    step = partial(reviews_resolve, method=method, reason_code=reason_code, note=note, actor=actor)
    return _in_batches(step, phase_ids, batch=batch, size=size)


def resolution_preview(phase_ids: list[int], method: str) -> Counter:
    """How many of `phase_ids` `method` would resolve as they are now, and how many each
    refusal would leave out (by Refusal code; "resolved" for the rest), read without locks:
    what a confirmation page says before anything is written. The batch decides again under
    its locks, by the same rule (`resolution_refusal`)."""
    tally = Counter()
    phases = (
        WarmupPhase.objects.select_related("account")
        .prefetch_related(Prefetch("template", PhaseTemplate.objects.only("requires_content")))
        .only(*LOCKED_FIELDS)
        .filter(pk__in=phase_ids)
    )
    for phase in phases.iterator(chunk_size=2000):
        refusal = resolution_refusal(phase, method)
        tally[refusal.refusal if refusal is not None else "resolved"] += 1
    return tally


# One item by its method's name (a batch of one, as above).
review_resume = partial(review_resolve, method=ResolutionMethod.RESUME)
review_retry = partial(review_resolve, method=ResolutionMethod.RETRY)
review_complete = partial(review_resolve, method=ResolutionMethod.COMPLETE)
review_skip = partial(review_resolve, method=ResolutionMethod.SKIP)


# --- Undo ------------------------------------------------------------------------------------


def batch_items(batch) -> list[int]:
    """The phases a batch resolved, oldest row first."""
    return list(
        ReviewLog.objects.filter(batch=batch, action__in=list(RESOLUTION_ACTIONS.values()))
        .order_by("created_at", "id")
        .values_list("phase_id", flat=True)
    )


@dataclass
class _Undo:
    """One phase an undo looks at: the resolution to undo, and (for a completion) the account's
    next phase, which the completion unlocked and the undo locks again."""

    phase: WarmupPhase
    resolution: ReviewLog
    following: WarmupPhase | None = None

    @property
    def watched(self) -> list[int]:
        return [self.phase.pk] + ([self.following.pk] if self.following else [])


def _next_phases(completed: list[WarmupPhase]) -> tuple[dict[int, WarmupPhase], set[int]]:
    """Each completed phase's next phase in its account's plan (locked, SKIP LOCKED), by the
    completed phase's id; and the ids of completed phases whose next phase someone holds."""
    orders = {phase.account_id: phase.order for phase in completed}
    next_ids: dict[int, int] = {}
    for pk, account_id, order in (
        WarmupPhase.objects.filter(account_id__in=list(orders))
        .order_by("account_id", "order")
        .values_list("pk", "account_id", "order")
    ):
        if order > orders[account_id]:
            next_ids.setdefault(account_id, pk)
    locked = {
        phase.pk: phase
        for phase in WarmupPhase.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            pk__in=list(next_ids.values())
        )
    }
    following, busy = {}, set()
    for phase in completed:
        next_id = next_ids.get(phase.account_id)
        if next_id is None:
            continue  # the plan's last phase
        if next_id in locked:
            following[phase.pk] = locked[next_id]
        else:
            busy.add(phase.pk)
    return following, busy


def _touched_since(undos: list[_Undo]) -> tuple[set[int], set[int]]:
    """Of the phases the undos watch: those a bot claimed after the resolution, and those on
    which a move was logged after it (a hold, another resolution, an earlier undo; notes and
    assignments are no moves)."""
    after = {pk: undo.resolution for undo in undos for pk in undo.watched}
    since = min((r.created_at for r in after.values()), default=timezone.now())
    claimed = {
        phase_id
        for phase_id, claimed_at in PhaseAttempt.objects.filter(
            phase_id__in=list(after), claimed_at__gte=since
        ).values_list("phase_id", "claimed_at")
        if claimed_at > after[phase_id].created_at
    }
    first_row = min((r.pk for r in after.values()), default=0)
    notes_only = [ReviewAction.COMMENTED, ReviewAction.ASSIGNED, ReviewAction.UNASSIGNED]
    moved = {
        phase_id
        for phase_id, row_id in ReviewLog.objects.filter(phase_id__in=list(after), pk__gt=first_row)
        .exclude(action__in=notes_only)
        .values_list("phase_id", "pk")
        if row_id > after[phase_id].pk
    }
    return claimed, moved


def _cannot(refusal: Refusal, message: str, phase: WarmupPhase, **words) -> CannotUndo:
    return CannotUndo(message.format(**words), refusal=refusal, phase_id=phase.pk, **words)


def undo_refusal(undo: _Undo, claimed: set[int], moved: set[int]) -> CannotUndo | None:
    """Why the undo must leave this phase as it is, or None to put it back in review."""
    phase, following = undo.phase, undo.following
    if phase.pk in claimed:
        return _cannot(Refusal.CLAIMED_SINCE, UNDO_CLAIMED_SINCE, phase)
    if phase.status == S.REVIEW_REQUIRED:
        return _cannot(Refusal.IN_REVIEW_AGAIN, UNDO_IN_REVIEW, phase)
    if phase.pk in moved:
        return _cannot(Refusal.ACTED_SINCE, UNDO_ACTED_SINCE, phase)
    if phase.status != undo.resolution.to_status and not (
        # A resume leaves the phase available; the scheduler gives it content next.
        (undo.resolution.to_status, phase.status) == (S.AVAILABLE, S.CONTENT_ASSIGNED)
    ):
        status = phase.get_status_display().lower()
        return _cannot(Refusal.MOVED_ON, UNDO_MOVED_ON, phase, status=status)
    if following is None:
        return None
    if following.pk in claimed:
        return _cannot(Refusal.NEXT_CLAIMED, UNDO_NEXT_CLAIMED, phase)
    if following.status not in (S.PENDING, S.AVAILABLE, S.CONTENT_ASSIGNED):
        status = following.get_status_display().lower()
        return _cannot(Refusal.NEXT_MOVED_ON, UNDO_NEXT_MOVED_ON, phase, status=status)
    if following.pk in moved:
        status = "acted on since (see its review history)"
        return _cannot(Refusal.NEXT_MOVED_ON, UNDO_NEXT_MOVED_ON, phase, status=status)
    return None


def _resolved_before(undos: list[_Undo]) -> dict[int, datetime]:
    """Each phase's resolution before the one undone (that no undo took back), by its moment:
    what the phase's last_resolved_at goes back to. One query."""
    earlier = (
        standing_resolutions()
        .filter(phase_id__in=[undo.phase.pk for undo in undos])
        .exclude(pk__in=[undo.resolution.pk for undo in undos])
        .order_by("phase_id", "id")
        .values_list("phase_id", "created_at")
    )
    return dict(earlier)  # the latest of each phase last


def _restored_fields(undos: list[_Undo]) -> dict[int, dict]:
    """What each phase had in review when the batch resolved it: its review clock, level,
    retry count, assignee (if they may still resolve), content and the resolution before."""
    assignees = {undo.resolution.data.get("assignee") for undo in undos} - {None}
    still_reviewers = {
        user.pk for user in get_user_model().objects.filter(pk__in=assignees) if can_resolve(user)
    }
    resolved_before = _resolved_before(undos)
    restored = {}
    for undo in undos:
        row = undo.resolution
        assignee = row.data.get("assignee")
        restored[undo.phase.pk] = {
            "review_required_since": row.created_at - (row.time_in_review or timedelta(0)),
            "escalation_level": row.escalation_level,
            "retry_count": row.retry_count,
            "review_assignee_id": assignee if assignee in still_reviewers else None,
            "content_id": row.data.get("content", undo.phase.content_id),
            "last_resolved_at": resolved_before.get(undo.phase.pk),
        }
    return restored


def batch_undo_in_batches(
    *, undo: uuid.UUID, note: str, actor: Actor, batch=None, size: int = BATCH_SIZE
) -> BatchResult:
    """`batch_undo` of every item batch `undo` resolved, `size` at a time under one new batch
    id: the console's "Undo this batch"."""
    step = partial(batch_undo, undo=undo, note=note, actor=actor)
    return _in_batches(step, batch_items(undo), batch=batch, size=size)


@transaction.atomic
def batch_undo(
    *, undo: uuid.UUID, phase_ids: list[int], note: str, actor: Actor, batch
) -> BatchResult:
    """Put the phases that batch `undo` resolved back in review, where they are still where it
    left them: not claimed by a bot since, nor moved by anyone; for a completion, the account's
    next phase not claimed either. They get back the review clock, escalation level, retry
    count, assignee and content they had (their failure is still on them).

    Side effects: the phases move to review_required, the next phases that their completion
    unlocked back to pending; one ReviewLog row each (with `batch`, naming the undone batch)."""
    note = require_note(note)
    locked, unchanged = _lock(phase_ids)
    resolutions = {
        row.phase_id: row
        for row in ReviewLog.objects.filter(
            batch=undo,
            phase_id__in=[p.pk for p in locked],
            action__in=list(RESOLUTION_ACTIONS.values()),
        )
    }
    for phase in locked:
        if phase.pk not in resolutions:
            unchanged[phase.pk] = _cannot(Refusal.NOT_IN_BATCH, UNDO_NOT_IN_BATCH, phase)
    completed = [p for p in locked if p.pk in resolutions and p.status == S.COMPLETED]
    following, next_busy = _next_phases(completed)
    undos = []
    for phase in locked:
        if phase.pk in next_busy:
            unchanged[phase.pk] = Busy(UNDO_NEXT_BUSY, refusal=Refusal.NEXT_BUSY, phase_id=phase.pk)
        elif phase.pk in resolutions:
            undos.append(_Undo(phase, resolutions[phase.pk], following.get(phase.pk)))
    claimed, moved = _touched_since(undos)
    back = []
    for item in undos:
        why = undo_refusal(item, claimed, moved)
        if why is None:
            back.append(item)
        else:
            unchanged[item.phase.pk] = why
    if back:
        relock = [item.following for item in back if item.following is not None]
        relock_many([phase for phase in relock if phase.status != S.PENDING])
        WarmupPhase.objects.filter(pk__in=[p.pk for p in relock], status=S.PENDING).update(
            available_at=None
        )
        from_status = {item.phase.pk: item.phase.status for item in back}
        back_to_review_many([item.phase for item in back], per_row=_restored_fields(back))
        review_log.resolutions_undone(
            [(item.phase, item.resolution, from_status[item.phase.pk]) for item in back],
            actor=actor,
            note=note,
            batch=batch,
        )
    return BatchResult(batch=batch, changed=[item.phase.pk for item in back], unchanged=unchanged)
