"""What bots do to phases: claim, heartbeat, complete, fail; and the failure path they share
with lease expiry (retry by policy, or escalate to review).

Every function here locks the phase row, checks, writes the change with its PhaseAttempt and
ReviewLog rows in one transaction, and leaves `status` to the moves of `warmup.lifecycle.state`.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, partial
from typing import Any

from django.db import transaction
from django.db.models import Exists
from django.utils import timezone
from fast_update.fast import fast_update

from config import metrics
from warmup.domain.actors import SYSTEM, Actor
from warmup.domain.errors import (
    LEASE_EXPIRED,
    LEASE_STALE,
    PHASE_NOT_FOUND,
    PHASE_NOT_VISIBLE,
    LeaseLost,
    NotFound,
)
from warmup.domain.policy import RetryPolicy, policy_for
from warmup.domain.signatures import Signature, signature_of
from warmup.domain.validation import validate_category
from warmup.lifecycle import review_log
from warmup.lifecycle.state import (
    ATTEMPT_COMPLETED,
    ATTEMPT_OPENED,
    BOT_COMPLETION,
    CLAIM_NARROWING,
    CLAIM_ORDER,
    CLAIM_SKIPS_LOCKED,
    CLAIM_UNBLOCKED,
    CLAIMABLE,
    CLAIMER,
    COMPLETE_TO,
    HEARTBEAT_WRITES,
    LEASE_HELD,
    LEASE_LIVE,
    NEXT_PHASE_ORDER,
    STEP_DELAY,
    UNLOCK_FROM,
    UNLOCK_TO,
    UNLOCK_WRITES,
    apply_transition_many,
    enter_review_many,
    holds,
    matching,
    release_lease,
    release_leases,
    take_lease,
    written,
)
from warmup.models import (
    AttemptOutcome,
    Bot,
    CompletionMethod,
    FailureCategory,
    FailureDecision,
    PhaseAttempt,
    PhaseStatus,
    WarmupPhase,
)
from warmup.services import bot_statements
from warmup.services.accounts import account_suspend
from warmup.services.breaker import Failed, breaker_trials_take, breakers_check
from warmup.services.signatures import signatures_store

S = PhaseStatus


@dataclass(frozen=True)
class FailureOutcome:
    """What the policy decided about a failure: the failure context a bot gets back."""

    phase: WarmupPhase
    decision: str  # FailureDecision: retry_scheduled | review_required
    retry_count: int
    max_retries: int
    next_attempt_at: datetime | None
    review_required_since: datetime | None
    category: str
    reason: str
    details: dict
    at: datetime  # when the failure was recorded
    signature: str | None = None  # its key (warmup.domain.signatures); None before they existed
    replayed: bool = False


# --- Locking helpers ---------------------------------------------------------------------


def phase_lock(phase_id: int) -> WarmupPhase:
    """Fetch and lock one phase row (FOR UPDATE on PostgreSQL); NotFound if there is none."""
    try:
        return (
            WarmupPhase.objects.select_for_update(of=("self",))
            .select_related("template", "account")
            .get(pk=phase_id)
        )
    except WarmupPhase.DoesNotExist:
        raise NotFound(PHASE_NOT_FOUND.format(phase_id=phase_id), phase_id=phase_id) from None


def phase_lock_for_report(phase_id: int, *, bot: Bot) -> WarmupPhase:
    """Lock the phase a bot reports on. A bot learns nothing of a phase it has never held
    (no lease now, no attempt ever): NotFound, in the same words as for a phase that does not
    exist, so its status and its very existence stay hidden; a bot that did hold it gets the
    lease check's informative refusal (lease_lost with the status). The attempt is looked up
    only when the bot is not the holder now (a refusal's path)."""
    try:
        phase = phase_lock(phase_id)
    except NotFound:
        phase = None
    if phase is not None and (
        phase.bot_id == bot.pk or PhaseAttempt.objects.filter(phase=phase, bot=bot).exists()
    ):
        return phase
    raise NotFound(PHASE_NOT_VISIBLE.format(phase_id=phase_id), phase_id=phase_id)


def _attempt_for(phase: WarmupPhase, lease_token) -> PhaseAttempt | None:
    """The attempt of this lease, by the unique lease_token index (`.first()` would add the
    model's ordering, a join to the phase and a sort)."""
    if lease_token is None:
        return None
    try:
        return PhaseAttempt.objects.get(lease_token=lease_token, phase=phase)
    except PhaseAttempt.DoesNotExist:
        return None


def _is_replay(attempt: PhaseAttempt | None, *, bot: Bot, outcome: str) -> bool:
    """Whether a report is the same bot's repeat of one that already ended this attempt with
    `outcome` (a retry after a timeout): it gets the first answer and changes nothing."""
    return attempt is not None and attempt.bot_id == bot.pk and attempt.outcome == outcome


def _check_lease(phase: WarmupPhase, *, bot: Bot, lease_token, now: datetime) -> None:
    """The declared lease check of a report (as the one-statement completion makes it)."""
    if not holds(phase, LEASE_HELD, bot=bot.pk, token=lease_token):
        raise LeaseLost(LEASE_STALE, phase_id=phase.pk, current_status=phase.status)
    if not holds(phase, LEASE_LIVE, now=now):
        raise LeaseLost(
            LEASE_EXPIRED.format(expires_at=phase.lease_expires_at.isoformat()),
            phase_id=phase.pk,
            current_status=phase.status,
        )


def _parse_token(lease_token) -> uuid.UUID | None:
    """The lease token as a UUID; None for one no lease can have (the lease check refuses it,
    after the phase lookup, so a bot that never held the phase learns nothing either way)."""
    try:
        return uuid.UUID(str(lease_token))
    except (TypeError, ValueError):
        return None


# --- Claim and heartbeat -----------------------------------------------------------------


def claimable_phases(*, now: datetime, platforms=None, phase_types=None, plans=None):
    """Phases a bot may claim now: content assigned, due, on an active account; narrowed to
    the given platforms, phase types and plans (slugs) when any are given (CLAIMABLE)."""
    given = {"platforms": platforms, "phase_types": phase_types, "plans": plans}
    conditions = [*CLAIMABLE, *(CLAIM_NARROWING[name] for name, values in given.items() if values)]
    return WarmupPhase.objects.filter(matching(conditions, now=now, **given)).order_by(*CLAIM_ORDER)


def phase_claim(
    *,
    bot: Bot,
    platforms: list[str] | None = None,
    phase_types: list[str] | None = None,
    plans: list[str] | None = None,
) -> WarmupPhase | None:
    """Hand the next ready phase to `bot` under a new lease, or None when nothing is ready.

    Side effects: one PhaseAttempt row. Rows other claimers hold are skipped, never waited on.
    A bot deactivated meanwhile (its request authenticated from the token cache) gets None.
    On PostgreSQL this is one statement (`warmup.services.bot_statements`), atomic by itself:
    outside a transaction it commits on its own, with no BEGIN and COMMIT round trips around it.
    """
    now = timezone.now()
    if bot_statements.available():
        return bot_statements.claim(
            bot_id=bot.pk,
            token=uuid.uuid4(),
            now=now,
            platforms=platforms,
            phase_types=phase_types,
            plans=plans,
        )
    return _claim_with_the_orm(
        bot=bot, now=now, platforms=platforms, phase_types=phase_types, plans=plans
    )


@transaction.atomic
def _claim_with_the_orm(*, bot: Bot, now: datetime, platforms, phase_types, plans):
    phase = (
        claimable_phases(now=now, platforms=platforms, phase_types=phase_types, plans=plans)
        .filter(Exists(Bot.objects.filter(matching(CLAIMER), pk=bot.pk)))
        .filter(matching([CLAIM_UNBLOCKED], now=now, bot=bot.pk))
        .select_for_update(skip_locked=CLAIM_SKIPS_LOCKED, of=("self",))
        .select_related("template", "account", "content")
        .first()
    )
    if phase is None:
        return None
    if not breaker_trials_take(phase, bot_id=bot.pk, now=now):
        transaction.set_rollback(True)  # a trial taken of another breaker goes back
        return None
    take_lease(phase, bot=bot, lease_token=uuid.uuid4(), now=now)
    transaction.on_commit(metrics.PHASE_CLAIMS.labels(phase_type=phase.phase_type).inc)
    PhaseAttempt.objects.create(**written(ATTEMPT_OPENED, phase, now=now))
    return phase


@transaction.atomic
def phase_heartbeat(*, phase_id: int, bot: Bot, lease_token) -> WarmupPhase:
    """Extend the lease by the template's lease duration (HEARTBEAT_WRITES); LeaseLost if it is
    not bot's any more."""
    now = timezone.now()
    token = _parse_token(lease_token)
    phase = phase_lock_for_report(phase_id, bot=bot)
    _check_lease(phase, bot=bot, lease_token=token, now=now)
    fields = written(HEARTBEAT_WRITES, phase, now=now)
    WarmupPhase.objects.filter(pk=phase.pk).update(**fields)
    for name, value in fields.items():
        setattr(phase, name, value)
    return phase


# --- Complete --------------------------------------------------------------------------


def phase_complete(
    *, phase_id: int, bot: Bot, lease_token, result: dict[str, Any] | None = None
) -> WarmupPhase:
    """Mark the phase completed by `bot` and unlock the account's next phase after its delay.

    Replaying the same report (same lease token) after it succeeded changes nothing. On
    PostgreSQL a report on a lease the bot holds is one statement
    (`warmup.services.bot_statements`, atomic by itself); any other (a replay, a lost lease, no
    such phase) takes the path below, in a transaction, which says why.
    """
    now = timezone.now()
    token = _parse_token(lease_token)
    if token is not None and bot_statements.available():
        phase = bot_statements.complete(
            phase_id=phase_id,
            bot_id=bot.pk,
            token=token,
            now=now,
            method=CompletionMethod.BOT,
            result=result or {},
        )
        if phase is not None:
            return phase
    return _complete_with_the_orm(phase_id=phase_id, bot=bot, token=token, now=now, result=result)


@transaction.atomic
def _complete_with_the_orm(*, phase_id: int, bot: Bot, token, now: datetime, result) -> WarmupPhase:
    phase = phase_lock_for_report(phase_id, bot=bot)
    attempt = _attempt_for(phase, token)
    if _is_replay(attempt, bot=bot, outcome=AttemptOutcome.COMPLETED):
        return phase
    _check_lease(phase, bot=bot, lease_token=token, now=now)
    release_lease(
        phase, COMPLETE_TO, **written(BOT_COMPLETION, now=now, method=CompletionMethod.BOT)
    )
    transaction.on_commit(metrics.PHASE_COMPLETIONS.labels(phase_type=phase.phase_type).inc)
    closed = written(ATTEMPT_COMPLETED, now=now, result=result or {})
    for name, value in closed.items():
        setattr(attempt, name, value)
    attempt.save(update_fields=list(closed))
    phases_unlock_next([phase], now=now)
    return phase


def phases_unlock_next(phases: list[WarmupPhase], *, now: datetime) -> list[WarmupPhase]:
    """After `phases` (of different accounts) completed: schedule each account's next pending
    phase after its delay, or make it available at once when the delay is zero. Set-based, for
    one completion as for a bulk resolution: one query finds each account's next pending phase;
    those with no delay become available in one UPDATE, the others get their time in one
    UPDATE per delay. Returns the phases unlocked or scheduled. Caller holds the transaction."""
    after = {phase.account_id: phase.order for phase in phases}
    following: dict[int, WarmupPhase] = {}
    pending = (
        WarmupPhase.objects.select_for_update(of=("self",))
        .select_related("template")
        .filter(account_id__in=list(after), status=UNLOCK_FROM)
        .order_by("account_id", *NEXT_PHASE_ORDER)
    )
    for candidate in pending:
        if candidate.order > after[candidate.account_id]:
            following.setdefault(candidate.account_id, candidate)
    # The delay, its bounds and what an unlock writes are the declaration's (STEP_DELAY,
    # UNLOCK_WRITES), as in the one-statement completion.
    due_now = [p for p in following.values() if STEP_DELAY.of(p.template) <= timedelta(0)]
    if due_now:
        apply_transition_many(due_now, UNLOCK_TO, **written(UNLOCK_WRITES, due_now[0], now=now))
    by_delay: dict[timedelta, list[WarmupPhase]] = {}
    for phase in following.values():
        if STEP_DELAY.of(phase.template) > timedelta(0):
            by_delay.setdefault(STEP_DELAY.of(phase.template), []).append(phase)
    for group in by_delay.values():
        fields = written(UNLOCK_WRITES, group[0], now=now)
        WarmupPhase.objects.filter(pk__in=[p.pk for p in group]).update(**fields)
        for phase in group:
            phase.available_at = fields["available_at"]
    return list(following.values())


# --- Failure path ----------------------------------------------------------------------


@transaction.atomic
def phase_fail(
    *,
    phase_id: int,
    bot: Bot,
    lease_token,
    category: str,
    reason: str,
    details: dict | None = None,
    retryable: bool = True,
    fingerprint: str | None = None,
) -> FailureOutcome:
    """Record a bot's failure report and apply the retry policy (retry later or escalate).
    The failure's signature is the bot's `fingerprint` when it sends one, else the one
    computed from its category, phase type and reason (`warmup.domain.signatures`).

    Side effects: the attempt is closed; an escalation writes a ReviewLog row; an
    `account_suspended` failure also suspends the account. A replay returns the first answer.
    """
    validate_category(category)
    now = timezone.now()
    token = _parse_token(lease_token)
    phase = phase_lock_for_report(phase_id, bot=bot)
    attempt = _attempt_for(phase, token)
    if _is_replay(attempt, bot=bot, outcome=AttemptOutcome.FAILED):
        return _replayed_outcome(phase, attempt)
    _check_lease(phase, bot=bot, lease_token=token, now=now)
    return failure_record(
        phase,
        attempt,
        category=category,
        reason=reason,
        details=details or {},
        reported_retryable=retryable,
        fingerprint=fingerprint,
        actor=Actor.for_bot(bot),
        outcome=AttemptOutcome.FAILED,
        now=now,
    )


@dataclass(frozen=True)
class Failure:
    """One failure to record: the phase (locked by the caller), the attempt it ends (None when
    there is none) and what went wrong."""

    phase: WarmupPhase
    attempt: PhaseAttempt | None
    category: str
    reason: str
    details: dict
    reported_retryable: bool = True
    fingerprint: str | None = None  # the bot's own grouping, when it sends one

    @cached_property
    def signature(self) -> Signature:
        return signature_of(
            category=self.category,
            phase_type=self.phase.phase_type,
            reason=self.reason,
            fingerprint=self.fingerprint,
        )


def failure_record(
    phase: WarmupPhase,
    attempt: PhaseAttempt | None,
    *,
    category: str,
    reason: str,
    details: dict,
    reported_retryable: bool,
    actor: Actor,
    outcome: str,
    now: datetime,
    fingerprint: str | None = None,
) -> FailureOutcome:
    """The failure path of one phase (see `failures_record`). Caller holds the row lock."""
    failure = Failure(phase, attempt, category, reason, details, reported_retryable, fingerprint)
    return failures_record([failure], actor=actor, outcome=outcome, now=now)[0]


def failures_record(
    failures: list[Failure], *, actor: Actor, outcome: str, now: datetime
) -> list[FailureOutcome]:
    """The failure path shared by bot reports and lease expiry: for each phase the retry
    policy decides a retry (after its backoff) or an escalation to review, with a ReviewLog
    row. Set-based, for a tick's batch of expired leases as for one report: one UPDATE per
    decision, one for the attempts, one INSERT for the log rows. Caller holds the row locks."""
    decided: list[tuple[Failure, RetryPolicy, str]] = []
    retries: dict[int, dict] = {}
    reviews: dict[int, dict] = {}
    signatures_store([failure.signature for failure in failures], now=now)
    for failure in failures:
        phase = failure.phase
        policy = policy_for(failure.category, phase.template)
        fields = {
            "last_failure_category": failure.category,
            "last_failure_reason": failure.reason,
            "last_failure_details": failure.details,
            "last_failure_at": now,
        }
        if policy.allows_retry(
            retry_count=phase.retry_count, reported_retryable=failure.reported_retryable
        ):
            retry_count = phase.retry_count + 1
            retries[phase.pk] = {
                **fields,
                "retry_count": retry_count,
                "next_attempt_at": now + policy.backoff(retry_count),
            }
            decided.append((failure, policy, FailureDecision.RETRY_SCHEDULED))
        else:
            reviews[phase.pk] = {**fields, "review_signature_id": failure.signature.key}
            decided.append((failure, policy, FailureDecision.REVIEW_REQUIRED))

    retried = [f.phase for f, _, decision in decided if decision == FailureDecision.RETRY_SCHEDULED]
    escalated = [f for f, _, decision in decided if decision == FailureDecision.REVIEW_REQUIRED]
    if retried:
        release_leases(retried, S.CONTENT_ASSIGNED, per_row=retries)
    if escalated:
        enter_review_many([f.phase for f in escalated], now=now, per_row=reviews)
        review_log.escalated_many(
            [(f.phase, f.reason) for f in escalated], actor=actor, from_status=S.IN_PROGRESS
        )
    _close_attempts(decided, outcome=outcome, now=now)
    # With the attempts stored, so the breaker counts them (before any account's lock: the
    # order of locks is phases, a signature, a breaker).
    breakers_check([Failed(f.signature.key, f.phase, f.attempt) for f, _, _ in decided], now=now)
    for (category, decision), count in Counter(
        (f.category, decision) for f, _, decision in decided
    ).items():
        transaction.on_commit(
            partial(metrics.PHASE_FAILURES.labels(category=category, decision=decision).inc, count)
        )
    for failure, _, _ in decided:
        if failure.category == FailureCategory.ACCOUNT_SUSPENDED:
            account_suspend(
                account=failure.phase.account, actor=actor, phase=failure.phase, note=failure.reason
            )
    return [
        FailureOutcome(
            phase=f.phase,
            decision=decision,
            retry_count=f.phase.retry_count,
            max_retries=policy.max_retries,
            next_attempt_at=f.phase.next_attempt_at,
            review_required_since=f.phase.review_required_since,
            category=f.category,
            reason=f.reason,
            details=f.details,
            at=now,
            signature=f.signature.key,
        )
        for f, policy, decision in decided
    ]


ATTEMPT_FAILURE_FIELDS = [
    "finished_at",
    "outcome",
    "failure_category",
    "reason",
    "details",
    "retryable",
    "signature",
    "decision",
    "retry_count_after",
    "max_retries",
    "next_attempt_at",
]


def _close_attempts(decided, *, outcome: str, now: datetime) -> None:
    """End the failures' attempts with what was decided and their signature, in one UPDATE."""
    attempts = []
    for failure, policy, decision in decided:
        attempt = failure.attempt
        if attempt is None:
            continue
        attempt.finished_at = now
        attempt.outcome = outcome
        attempt.failure_category = failure.category
        attempt.reason = failure.reason
        attempt.details = failure.details
        attempt.retryable = failure.reported_retryable
        attempt.signature_id = failure.signature.key
        attempt.decision = decision
        attempt.retry_count_after = failure.phase.retry_count
        attempt.max_retries = policy.max_retries
        attempt.next_attempt_at = failure.phase.next_attempt_at
        attempts.append(attempt)
    if len(attempts) == 1:
        attempts[0].save(update_fields=ATTEMPT_FAILURE_FIELDS)
    elif attempts:
        # One UPDATE ... FROM VALUES (see `warmup.lifecycle.state._update_from_values`).
        fast_update(PhaseAttempt.objects.all(), attempts, ATTEMPT_FAILURE_FIELDS, batch_size=None)


def _replayed_outcome(phase: WarmupPhase, attempt: PhaseAttempt) -> FailureOutcome:
    escalated = attempt.decision == FailureDecision.REVIEW_REQUIRED
    return FailureOutcome(
        phase=phase,
        decision=attempt.decision,
        retry_count=attempt.retry_count_after,
        max_retries=attempt.max_retries,
        next_attempt_at=attempt.next_attempt_at,
        review_required_since=attempt.finished_at if escalated else None,
        category=attempt.failure_category,
        reason=attempt.reason,
        details=attempt.details,
        at=attempt.finished_at,
        signature=attempt.signature_id,
        replayed=True,
    )


def leases_expire(
    phases: list[WarmupPhase], *, now: datetime, reason: str | None = None, actor: Actor = SYSTEM
) -> list[FailureOutcome]:
    """Turn leases into `lease_expired` failures (retried or escalated by policy): the
    scheduler's path for expired leases, a batch at a time, and the bot services' for the
    leases of a bot that is deactivated (with their own `reason` and `actor`). The phases need
    their template, account and bot; the caller holds their row locks."""
    attempts = {
        (attempt.phase_id, attempt.lease_token): attempt
        for attempt in PhaseAttempt.objects.filter(
            lease_token__in=[phase.lease_token for phase in phases]
        ).order_by()  # by key: the model's order would join the phases and accounts to sort
    }
    failures = [
        Failure(
            phase,
            attempts.get((phase.pk, phase.lease_token)),
            category=FailureCategory.LEASE_EXPIRED,
            reason=reason
            or f"Lease of bot {phase.bot} expired at {phase.lease_expires_at:%Y-%m-%d %H:%M} UTC",
            details={
                "bot": phase.bot.name if phase.bot else None,
                "lease_expires_at": phase.lease_expires_at.isoformat(),
            },
        )
        for phase in phases
    ]
    return failures_record(failures, actor=actor, outcome=AttemptOutcome.LEASE_EXPIRED, now=now)
