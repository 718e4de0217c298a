"""A small model of DESIGN.md's pipeline, in plain Python: accounts, phases, attempts, content
and the ReviewLog rows each event writes, with the moves the services should make.

The model predicts every deterministic outcome (which phase a claim hands out, the status a
report or a review action leads to, which content the scheduler picks, how many ReviewLog rows
each event writes). What the code draws at random (lease tokens, jittered retry times) is read
back from the service's answer and checked against its bounds.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings as django_settings
from django.db import connection
from hypothesis import strategies as st

from warmup.domain.choices import ResolutionMethod, ReviewAction
from warmup.models import (
    ACTIVE_STATUSES,
    AccountStatus,
    AttemptOutcome,
    CompletionMethod,
    FailureCategory,
    FailureDecision,
    PhaseStatus,
    Platform,
)

S = PhaseStatus
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PLATFORMS = [Platform.INSTAGRAM, Platform.TIKTOK, Platform.X]

# DESIGN.md's retry defaults, written out here rather than read from warmup.domain.policy: automatic
# retries after the first failure per category; categories missing here go to review at once.
MAX_RETRIES = {
    FailureCategory.NETWORK_ERROR: 3,
    FailureCategory.PROXY_ERROR: 3,
    FailureCategory.RATE_LIMITED: 3,
    FailureCategory.BOT_ERROR: 2,
    FailureCategory.LEASE_EXPIRED: 2,
    FailureCategory.UNKNOWN: 1,
}

RESOLUTION_ACTIONS = {
    ResolutionMethod.RESUME: ReviewAction.RESUMED,
    ResolutionMethod.RETRY: ReviewAction.RETRIED,
    ResolutionMethod.COMPLETE: ReviewAction.COMPLETED,
    ResolutionMethod.SKIP: ReviewAction.SKIPPED,
}

# --- Strategies -------------------------------------------------------------------------------

notes = st.sampled_from(["Fixed it by hand.", "  logged in from the phone ", "checked"])
blank_notes = st.sampled_from(["", "   ", None])
# Weighted towards categories that retry (so phases run through several retries) and towards
# account_suspended (which also suspends the account).
categories = st.sampled_from(
    [*MAX_RETRIES, *MAX_RETRIES, *FailureCategory.values, FailureCategory.ACCOUNT_SUSPENDED]
)
clock_steps = st.one_of(
    st.integers(min_value=1, max_value=2 * 86400).map(lambda s: timedelta(seconds=s)),
    st.sampled_from(
        [
            timedelta(seconds=1),
            timedelta(minutes=10),
            timedelta(minutes=30),
            timedelta(hours=1),
            timedelta(hours=4),
            timedelta(hours=6),
            timedelta(hours=12),
            timedelta(days=1),
        ]
    ),
)


def sql(query: str) -> list[tuple]:
    """Rows of a read-only query, in plain SQL: the checks run after every step, and the ORM's
    query compilation would be most of their cost."""
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()


def backoff_bounds(category: str, retry_number: int) -> tuple[timedelta, timedelta]:
    """The range settings allow for the delay before retry `retry_number` of `category`."""
    cfg = django_settings.WARMUP_RETRY_POLICY[category]
    delay = min(
        cfg["backoff_cap"], cfg["backoff_base"] * cfg["backoff_factor"] ** (retry_number - 1)
    )
    jitter = cfg.get("jitter", 0)
    slack = timedelta(milliseconds=1)
    return (
        timedelta(seconds=delay * (1 - jitter)) - slack,
        timedelta(seconds=delay * (1 + jitter)) + slack,
    )


# --- The model's rows -------------------------------------------------------------------------


@dataclass(eq=False)
class MAccount:
    pk: int
    platform: str
    status: str = AccountStatus.ACTIVE
    phases: list[MPhase] = field(default_factory=list)

    def active_phase(self) -> MPhase | None:
        return next((p for p in self.phases if p.status in ACTIVE_STATUSES), None)


@dataclass(eq=False)
class MPhase:
    pk: int
    account: MAccount
    order: int
    phase_type: str
    requires_content: bool
    delay: timedelta
    lease_duration: timedelta
    status: str = S.PENDING
    available_at: datetime | None = None
    next_attempt_at: datetime | None = None
    content_id: int | None = None
    bot_id: int | None = None
    lease_token: uuid.UUID | None = None
    lease_expires_at: datetime | None = None
    retry_count: int = 0
    attempt_count: int = 0
    last_failure_category: str = ""
    review_required_since: datetime | None = None
    escalation_level: int = 0
    review_assignee_id: int | None = None
    completed_at: datetime | None = None
    completion_method: str = ""

    def __repr__(self):
        return f"<phase {self.pk} acct {self.account.pk} #{self.order} {self.status}>"

    def lease_is_live(self, now: datetime) -> bool:
        return self.lease_expires_at > now

    def clear_lease(self):
        self.lease_token = None
        self.lease_expires_at = None

    def clear_review(self):
        self.review_required_since = None
        self.escalation_level = 0
        self.review_assignee_id = None


@dataclass(eq=False)
class MAttempt:
    phase: MPhase
    number: int
    bot_id: int
    token: uuid.UUID
    outcome: str = ""
    decision: str = ""


@dataclass
class MContent:
    pk: int
    phase_type: str
    times_used: int = 0


class TickCounts(NamedTuple):
    expired: int
    unlocked: int
    assigned: int
    starved: int
    escalated: int


# --- The model --------------------------------------------------------------------------------


class Model:
    """What the database should hold. Reads return model rows; every move changes model rows
    only (the one exception: a retry time the code drew is read back through `read_retry_at`),
    and counts the ReviewLog rows the move should write in `logs`."""

    def __init__(self):
        self.accounts: list[MAccount] = []
        self.phases: list[MPhase] = []
        self.attempts: list[MAttempt] = []
        self.content: dict[int, MContent] = {}
        self.content_assignments = 0
        self.logs: Counter[str] = Counter()

    # --- set-up -------------------------------------------------------------------------------

    def add_content(self, pk: int, phase_type: str):
        self.content[pk] = MContent(pk=pk, phase_type=phase_type)

    def enrol(self, account: MAccount, *, now: datetime):
        """An account with its phases; enrolment makes the first phase available at once."""
        self.phases.extend(account.phases)
        self.accounts.append(account)
        first = account.phases[0]
        first.status, first.available_at = S.AVAILABLE, now

    # --- reads --------------------------------------------------------------------------------

    def with_status(self, *statuses) -> list[MPhase]:
        return [p for p in self.phases if p.status in statuses]

    def phase(self, pk: int) -> MPhase:
        return next(p for p in self.phases if p.pk == pk)

    def current_attempt(self, phase: MPhase) -> MAttempt:
        return next(a for a in self.attempts if a.phase is phase and a.token == phase.lease_token)

    def next_claim(self, now: datetime, platforms=None, phase_types=None) -> MPhase | None:
        """The phase a claim hands out: the one due first (then the lowest id) among the phases
        with content on active accounts that match the filters."""
        candidates = [
            p
            for p in self.with_status(S.CONTENT_ASSIGNED)
            if p.next_attempt_at <= now
            and p.account.status == AccountStatus.ACTIVE
            and (not platforms or p.account.platform in platforms)
            and (not phase_types or p.phase_type in phase_types)
        ]
        return min(candidates, key=lambda p: (p.next_attempt_at, p.pk), default=None)

    def ready(self) -> list[MPhase]:
        """Phases a bot may claim now or after their backoff."""
        return [
            p
            for p in self.with_status(S.CONTENT_ASSIGNED)
            if p.account.status == AccountStatus.ACTIVE
        ]

    def next_due(self) -> list[datetime]:
        """When the pending and available phases on active accounts come due."""
        return [
            p.available_at
            for p in self.with_status(S.PENDING, S.AVAILABLE)
            if p.available_at is not None and p.account.status == AccountStatus.ACTIVE
        ]

    def expiring(self, now: datetime) -> list[MPhase]:
        """Phases in progress whose lease has ended: a lease ends at its expiry instant."""
        return [p for p in self.with_status(S.IN_PROGRESS) if not p.lease_is_live(now)]

    def queue_head(self) -> MPhase:
        """The head of the review queue: highest escalation level, then longest in review."""
        return min(
            self.with_status(S.REVIEW_REQUIRED),
            key=lambda p: (-p.escalation_level, p.review_required_since, p.pk),
        )

    # --- bots ---------------------------------------------------------------------------------

    def claim(self, phase: MPhase, *, bot_id: int, token: uuid.UUID, now: datetime):
        phase.status = S.IN_PROGRESS
        phase.bot_id = bot_id
        phase.lease_token = token
        phase.lease_expires_at = now + phase.lease_duration
        phase.attempt_count += 1
        self.attempts.append(
            MAttempt(phase=phase, number=phase.attempt_count, bot_id=bot_id, token=token)
        )

    def heartbeat(self, phase: MPhase, *, now: datetime):
        phase.lease_expires_at = now + phase.lease_duration

    def bot_complete(self, phase: MPhase, *, now: datetime):
        self.current_attempt(phase).outcome = AttemptOutcome.COMPLETED
        self.complete(phase, CompletionMethod.BOT, now=now)

    def complete(self, phase: MPhase, method: str, *, now: datetime):
        """The phase is done (by its bot, or by a reviewer completing or skipping it); the next
        pending phase of its account comes due after its delay."""
        phase.status = S.COMPLETED
        phase.completed_at = now
        phase.completion_method = method
        phase.next_attempt_at = None
        phase.clear_lease()
        phase.clear_review()
        following = next(
            (p for p in phase.account.phases if p.order > phase.order and p.status == S.PENDING),
            None,
        )
        if following is not None:
            following.available_at = now + following.delay
            if following.delay <= timedelta(0):
                following.status = S.AVAILABLE

    def failure(
        self,
        phase: MPhase,
        category: str,
        retryable: bool,
        outcome: str,
        *,
        now: datetime,
        read_retry_at: Callable[[MPhase], datetime],
    ) -> str:
        """Apply the retry policy to a failure of the phase's current attempt; the decision."""
        attempt = self.current_attempt(phase)
        attempt.outcome = outcome
        phase.last_failure_category = category
        phase.clear_lease()
        max_retries = MAX_RETRIES.get(category, 0)
        if retryable and phase.retry_count < max_retries:
            phase.retry_count += 1
            phase.status = S.CONTENT_ASSIGNED
            # The jittered time is the code's to draw; it must lie within the policy's bounds.
            phase.next_attempt_at = read_retry_at(phase)
            low, high = backoff_bounds(category, phase.retry_count)
            assert low <= phase.next_attempt_at - now <= high, (category, phase.retry_count)
            attempt.decision = FailureDecision.RETRY_SCHEDULED
        else:
            phase.status = S.REVIEW_REQUIRED
            phase.review_required_since = now
            phase.escalation_level = 0
            phase.next_attempt_at = None
            self.logs[ReviewAction.ESCALATED] += 1
            attempt.decision = FailureDecision.REVIEW_REQUIRED
        if category == FailureCategory.ACCOUNT_SUSPENDED:
            if phase.account.status != AccountStatus.SUSPENDED:
                phase.account.status = AccountStatus.SUSPENDED
                self.logs[ReviewAction.ACCOUNT_SUSPENDED] += 1
        return attempt.decision

    # --- the scheduler ------------------------------------------------------------------------

    def tick(
        self,
        *,
        now: datetime,
        expiring: list[MPhase],
        read_retry_at: Callable[[MPhase], datetime],
    ) -> TickCounts:
        """One scheduler tick at `now`, with the leases that had ended before it; what it did."""
        # 1. expired leases become lease_expired failures
        for phase in sorted(expiring, key=lambda p: p.pk):
            self.failure(
                phase,
                FailureCategory.LEASE_EXPIRED,
                True,
                AttemptOutcome.LEASE_EXPIRED,
                now=now,
                read_retry_at=read_retry_at,
            )
        # 2. pending phases whose time has come, on accounts with no active phase
        unlocked = [
            p
            for p in self.with_status(S.PENDING)
            if p.available_at is not None
            and p.available_at <= now
            and p.account.active_phase() is None
        ]
        for phase in unlocked:
            phase.status = S.AVAILABLE
        # 3. content for available phases: the least-used active item of the type
        assigned = starved = 0
        for phase in sorted(self.with_status(S.AVAILABLE), key=lambda p: p.pk):
            content_id = None
            if phase.requires_content:
                items = [c for c in self.content.values() if c.phase_type == phase.phase_type]
                if not items:
                    starved += 1
                    continue
                item = min(items, key=lambda c: (c.times_used, c.pk))
                item.times_used += 1
                self.content_assignments += 1
                content_id = item.pk
            phase.content_id = content_id
            phase.status = S.CONTENT_ASSIGNED
            phase.next_attempt_at = now
            assigned += 1
        # 4. escalation levels by time in review, one log row per level crossed
        thresholds = django_settings.WARMUP_ESCALATION_THRESHOLDS
        raised = 0
        for phase in self.with_status(S.REVIEW_REQUIRED):
            age = now - phase.review_required_since
            target = sum(1 for t in thresholds if age >= t)
            if target > phase.escalation_level:
                raised += target - phase.escalation_level
                phase.escalation_level = target
        self.logs[ReviewAction.ESCALATION_RAISED] += raised
        return TickCounts(len(expiring), len(unlocked), assigned, starved, raised)

    # --- reviewers ----------------------------------------------------------------------------

    def resolve(self, phase: MPhase, method: str, *, now: datetime):
        """A reviewer resolves the phase in review."""
        if method == ResolutionMethod.RESUME:
            phase.clear_review()
            phase.status = S.AVAILABLE
            phase.retry_count = 0
            phase.content_id = None
            phase.next_attempt_at = None
            phase.available_at = now
        elif method == ResolutionMethod.RETRY:
            # Same content, claimable now, and a fresh retry budget (the cause was fixed).
            phase.clear_review()
            phase.status = S.CONTENT_ASSIGNED
            phase.next_attempt_at = now
            phase.retry_count = 0
        elif method == ResolutionMethod.COMPLETE:
            self.complete(phase, CompletionMethod.MANUAL, now=now)
        else:
            self.complete(phase, CompletionMethod.SKIPPED, now=now)
        self.logs[RESOLUTION_ACTIONS[method]] += 1

    def hold(self, phase: MPhase, *, now: datetime):
        """A reviewer holds an active phase for review."""
        if phase.status == S.IN_PROGRESS:
            # The bot's lease becomes stale; its attempt ends as interrupted.
            self.current_attempt(phase).outcome = AttemptOutcome.INTERRUPTED
        phase.status = S.REVIEW_REQUIRED
        phase.review_required_since = now
        phase.escalation_level = 0
        phase.next_attempt_at = None
        phase.clear_lease()
        # The hold is the phase's last failure now, one of no category (the queue's `held`).
        phase.last_failure_category = ""
        self.logs[ReviewAction.HELD] += 1

    def assign(self, phase: MPhase, assignee_id: int | None):
        """Assigning to the current assignee changes nothing and writes nothing."""
        if assignee_id != phase.review_assignee_id:
            phase.review_assignee_id = assignee_id
            self.logs[ReviewAction.ASSIGNED if assignee_id else ReviewAction.UNASSIGNED] += 1

    def comment(self):
        """A comment changes no phase; it writes its log row."""
        self.logs[ReviewAction.COMMENTED] += 1

    def recategorise(self, phase: MPhase, category: str):
        """The same category again changes nothing and writes nothing."""
        if category != phase.last_failure_category:
            phase.last_failure_category = category
            self.logs[ReviewAction.RECATEGORIZED] += 1

    def pause(self, account: MAccount):
        account.status = AccountStatus.PAUSED
        self.logs[ReviewAction.ACCOUNT_PAUSED] += 1

    def reactivate(self, account: MAccount):
        account.status = AccountStatus.ACTIVE
        self.logs[ReviewAction.ACCOUNT_REACTIVATED] += 1
