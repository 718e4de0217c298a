"""The state machine: rules in which bots, the scheduler, the clock and reviewers call the real
services and the model (model.py) makes the same move, and invariants, checked after every
step, that compare the database with the model. Invalid attempts (stale leases, wrong-status
review actions, missing notes) must raise a DomainError and change nothing.

Each example runs inside a savepoint that is rolled back at teardown (ReviewLog rows cannot be
deleted), with the clock frozen by time-machine and moved only by the rules.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from reviews.models import ReviewLog
from tests.builders import CONTENT_TYPES
from tests.factories import (
    AccountFactory,
    BotFactory,
    ContentItemFactory,
    UserFactory,
    default_plan,
)
from tests.warmup.stateful.model import (
    MAX_RETRIES,
    PLATFORMS,
    RESOLUTION_ACTIONS,
    START,
    MAccount,
    Model,
    MPhase,
    S,
    blank_notes,
    categories,
    clock_steps,
    notes,
    sql,
)
from warmup.domain.actors import Actor
from warmup.domain.choices import ReasonCode, ResolutionMethod
from warmup.domain.errors import (
    DomainError,
    InvalidInput,
    InvalidTransition,
    LeaseLost,
    NotClaimable,
    NotFound,
)
from warmup.models import (
    ACTIVE_STATUSES,
    Account,
    AccountStatus,
    AttemptOutcome,
    ContentItem,
    FailureCategory,
    FailureDecision,
    PhaseAttempt,
    WarmupPhase,
)
from warmup.services.accounts import account_pause, account_reactivate
from warmup.services.bot_work import phase_claim, phase_complete, phase_fail, phase_heartbeat
from warmup.services.resolutions import review_complete, review_resume, review_retry, review_skip
from warmup.services.review import review_assign, review_comment, review_hold, review_recategorize
from warmup.services.tick import tick

SNAPSHOT_MODELS = [WarmupPhase, PhaseAttempt, Account, ContentItem]
LOG_TABLE = ReviewLog._meta.db_table
CONTENT_TABLE = ContentItem._meta.db_table
ACCOUNT_TABLE = Account._meta.db_table

RESOLVERS = {
    ResolutionMethod.RESUME: review_resume,
    ResolutionMethod.RETRY: review_retry,
    ResolutionMethod.COMPLETE: review_complete,
    ResolutionMethod.SKIP: review_skip,
}


class WarmupMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Everything an example writes is undone at teardown: ReviewLog rows cannot be
        # deleted, so roll back instead of cleaning up.
        self._savepoint = transaction.savepoint()
        self._travel = time_machine.travel(START, tick=False)
        self._clock = self._travel.start()
        try:
            self._set_up()
        except BaseException:
            self.teardown()  # hypothesis only tears down a machine that was built
            raise

    def _set_up(self):
        self.model = Model()
        self.bots = [BotFactory() for _ in range(3)]
        self.reviewer = UserFactory(reviewer=True)
        self.other_reviewer = UserFactory(reviewer=True)
        self.actor = Actor.for_user(self.reviewer)
        for phase_type in CONTENT_TYPES:
            for _ in range(2):
                item = ContentItemFactory(phase_type=phase_type)
                self.model.add_content(item.pk, phase_type)

        templates = {t.pk: t for t in default_plan().templates.all()}
        for platform in PLATFORMS:
            account = AccountFactory(platform=platform)
            m_account = MAccount(pk=account.pk, platform=platform)
            for row in account.phases.order_by("order"):
                template = templates[row.template_id]
                m_phase = MPhase(
                    pk=row.pk,
                    account=m_account,
                    order=row.order,
                    phase_type=row.phase_type,
                    requires_content=template.requires_content,
                    delay=template.delay,
                    lease_duration=template.lease_duration,
                )
                m_account.phases.append(m_phase)
            self.model.enrol(m_account, now=START)

    @initialize(head_starts=st.lists(st.integers(0, 4), min_size=3, max_size=3))
    def head_start(self, head_starts):
        """Let bots complete the first few phases of each account, so that an example of a few
        dozen steps also reaches the later phases of the plan. One tick per round, not per
        phase: this runs before every example."""
        for round_ in range(max(head_starts)):
            behind = [
                a for a, n in zip(self.model.accounts, head_starts, strict=True) if n > round_
            ]
            due = max(
                next(p for p in a.phases if p.status != S.COMPLETED).available_at for a in behind
            )
            if due > self.now():
                self._clock.shift(due - self.now())
            self.run_tick()
            for account in behind:
                phase = self.do_claim(self.bots[0], platforms=[account.platform])
                assert phase is not None and phase.account is account
                self.do_complete(phase)

    def teardown(self):
        self._travel.stop()
        transaction.savepoint_rollback(self._savepoint)

    # --- helpers ------------------------------------------------------------------------------

    def now(self) -> datetime:
        return timezone.now()

    def draw(self, data, items, label: str):
        """One of `items` (phases, accounts, bots, attempts), drawn by position so that
        hypothesis prints a short number rather than the model object."""
        return items[data.draw(st.integers(min_value=0, max_value=len(items) - 1), label=label)]

    def pick_phase(self, data, *preferred_statuses) -> MPhase:
        """Mostly a phase in one of `preferred_statuses` (if any), sometimes any phase."""
        preferred = self.model.with_status(*preferred_statuses)
        if preferred and data.draw(st.integers(min_value=0, max_value=3), label="any") > 0:
            return self.draw(data, preferred, "phase")
        return self.draw(data, self.model.phases, "phase")

    def snapshot(self) -> list:
        """Every row this test can touch (this runs twice per refused call)."""
        rows = [sql(f"SELECT * FROM {m._meta.db_table} ORDER BY id") for m in SNAPSHOT_MODELS]
        # ReviewLog rows cannot change (the model and, on PostgreSQL, a trigger refuse): a new
        # row is all there is to see.
        return [*rows, sql(f"SELECT COUNT(*), MAX(id) FROM {LOG_TABLE}")]

    def refused(self, error_cls, fn, **kwargs) -> DomainError:
        """Call `fn`, expect `error_cls` (a DomainError), and check nothing changed."""
        assert issubclass(error_cls, DomainError)
        before = self.snapshot()
        with pytest.raises(error_cls) as excinfo:
            fn(**kwargs)
        assert self.snapshot() == before, f"{fn.__name__} refused but changed the database"
        return excinfo.value

    def lease_is_live(self, phase: MPhase) -> bool:
        return phase.lease_is_live(self.now())

    def db_next_attempt_at(self, phase: MPhase) -> datetime:
        return WarmupPhase.objects.values_list("next_attempt_at", flat=True).get(pk=phase.pk)

    # --- bots ---------------------------------------------------------------------------------

    def bot_by_pk(self, pk):
        return next(b for b in self.bots if b.pk == pk)

    def do_claim(self, bot, platforms=None, phase_types=None) -> MPhase | None:
        now = self.now()
        expected = self.model.next_claim(now, platforms, phase_types)

        claimed = phase_claim(bot=bot, platforms=platforms, phase_types=phase_types)

        if expected is None:
            assert claimed is None
            return None
        assert claimed is not None and claimed.pk == expected.pk
        assert claimed.content_id == expected.content_id
        self.model.claim(expected, bot_id=bot.pk, token=claimed.lease_token, now=now)
        return expected

    def do_complete(self, phase: MPhase):
        kwargs = {
            "phase_id": phase.pk,
            "bot": self.bot_by_pk(phase.bot_id),
            "lease_token": phase.lease_token,
        }
        if not self.lease_is_live(phase):
            self.refused(LeaseLost, phase_complete, **kwargs)
            return
        result = phase_complete(**kwargs, result={"post_url": "https://example.com/p/1"})
        assert result.status == S.COMPLETED
        self.model.bot_complete(phase, now=self.now())

    def do_fail(self, phase: MPhase, category: str, retryable: bool):
        kwargs = {
            "phase_id": phase.pk,
            "bot": self.bot_by_pk(phase.bot_id),
            "lease_token": phase.lease_token,
            "category": category,
            "reason": f"bot says {category}",
            "details": {"screen": "home"},
            "retryable": retryable,
        }
        if not self.lease_is_live(phase):
            self.refused(LeaseLost, phase_fail, **kwargs)
            return
        outcome = phase_fail(**kwargs)
        decision = self.model.failure(
            phase,
            category,
            retryable,
            AttemptOutcome.FAILED,
            now=self.now(),
            read_retry_at=self.db_next_attempt_at,
        )
        assert not outcome.replayed
        assert outcome.decision == decision
        assert outcome.retry_count == phase.retry_count
        assert outcome.max_retries == MAX_RETRIES.get(category, 0)
        assert outcome.phase.status == phase.status

    @rule(
        bot=st.integers(min_value=0, max_value=2),
        platforms=st.none() | st.lists(st.sampled_from(PLATFORMS), min_size=1, unique=True),
        phase_types=st.none()
        | st.lists(
            st.sampled_from(["profile_bio", "avatar", "follow_accounts"]),
            min_size=1,
            max_size=2,
            unique=True,
        ),
    )
    def claim(self, bot, platforms, phase_types):
        self.do_claim(self.bots[bot], platforms, phase_types)

    @rule(
        wait=st.one_of(st.just(timedelta(0)), clock_steps, clock_steps),
        bot=st.integers(min_value=0, max_value=2),
        report=st.sampled_from(["complete", "fail", "none"]),
        category=categories,
        retryable=st.booleans(),
    )
    def bot_round(self, wait, bot, report, category, retryable):
        """Some time passes, the scheduler ticks, a bot claims whatever is ready and reports
        at once (or keeps working on it): the pipeline's everyday round trip."""
        self._clock.shift(wait)
        self.run_tick()
        phase = self.do_claim(self.bots[bot])
        if phase is None or report == "none":
            return
        if report == "complete":
            self.do_complete(phase)
        else:
            self.do_fail(phase, category, retryable)

    def ready_on_active_accounts(self) -> list[MPhase]:
        """Phases a bot may claim now or after their backoff; if there are none, let time pass
        until the next pending phase comes due and the scheduler ticks."""
        if not self.model.ready():
            due = self.model.next_due()
            if due:
                self._clock.shift(max(timedelta(0), min(due) - self.now()))
                self.run_tick()
        return self.model.ready()

    @rule(
        data=st.data(),
        bot=st.integers(min_value=0, max_value=2),
        category=categories,
    )
    def bot_fails_repeatedly(self, data, bot, category):
        """A bot fails the same phase again and again, waiting out each backoff, until the
        policy stops retrying it and sends it to review."""
        ready = self.ready_on_active_accounts()
        if not ready:
            return
        phase = self.draw(data, ready, "phase")
        while phase.status == S.CONTENT_ASSIGNED:
            if phase.next_attempt_at > self.now():
                self._clock.shift(phase.next_attempt_at - self.now())
            claimed = self.do_claim(self.bots[bot], platforms=[phase.account.platform])
            assert claimed is phase
            self.do_fail(phase, category, True)

    def working_phase(self, data) -> MPhase | None:
        """A phase some bot is working on: one in progress, or else the next one ready,
        claimed now by a random bot."""
        if self.model.with_status(S.IN_PROGRESS):
            return self.draw(data, self.model.with_status(S.IN_PROGRESS), "phase")
        ready = self.ready_on_active_accounts()
        if ready and min(p.next_attempt_at for p in ready) > self.now():
            self._clock.shift(min(p.next_attempt_at for p in ready) - self.now())
        return self.do_claim(self.draw(data, self.bots, "claiming bot"))

    def stale_report(self, phase: MPhase, bot, token, action: str):
        kwargs = {"phase_id": phase.pk, "bot": bot, "lease_token": token}
        # A bot that never held the phase learns nothing of it: as if there were no such phase.
        held = PhaseAttempt.objects.filter(phase_id=phase.pk, bot=bot).exists()
        error = LeaseLost if held else NotFound
        if action == "heartbeat":
            self.refused(error, phase_heartbeat, **kwargs)
        elif action == "complete":
            self.refused(error, phase_complete, **kwargs)
        else:
            category = FailureCategory.NETWORK_ERROR
            self.refused(error, phase_fail, **kwargs, category=category, reason="late")

    @rule(data=st.data(), action=st.sampled_from(["heartbeat", "complete", "fail"]))
    def another_bot_reports(self, data, action):
        """A bot reporting on a phase another bot holds, with the holder's lease, is refused."""
        phase = self.working_phase(data)
        if phase is None:
            return
        other = self.draw(data, [b for b in self.bots if b.pk != phase.bot_id], "other bot")
        self.stale_report(phase, other, phase.lease_token, action)

    @rule(data=st.data(), note=notes, action=st.sampled_from(["heartbeat", "complete", "fail"]))
    def hold_while_a_bot_works(self, data, note, action):
        """A reviewer holds a phase a bot is working on: the bot's attempt ends as interrupted
        and its next report is refused."""
        phase = self.working_phase(data)
        if phase is None:
            return
        holder, token = self.bot_by_pk(phase.bot_id), phase.lease_token
        self.do_hold(phase, note)
        self.stale_report(phase, holder, token, action)

    @precondition(lambda self: self.model.with_status(S.IN_PROGRESS))
    @rule(data=st.data())
    def heartbeat(self, data):
        phase = self.draw(data, self.model.with_status(S.IN_PROGRESS), "phase")
        kwargs = {
            "phase_id": phase.pk,
            "bot": self.bot_by_pk(phase.bot_id),
            "lease_token": str(phase.lease_token),
        }
        if not self.lease_is_live(phase):
            self.refused(LeaseLost, phase_heartbeat, **kwargs)
            return
        phase_heartbeat(**kwargs)
        self.model.heartbeat(phase, now=self.now())

    @precondition(lambda self: self.model.with_status(S.IN_PROGRESS))
    @rule(data=st.data())
    def complete(self, data):
        self.do_complete(self.draw(data, self.model.with_status(S.IN_PROGRESS), "phase"))

    @precondition(lambda self: self.model.with_status(S.IN_PROGRESS))
    @rule(data=st.data(), category=categories, retryable=st.booleans())
    def fail(self, data, category, retryable):
        self.do_fail(
            self.draw(data, self.model.with_status(S.IN_PROGRESS), "phase"), category, retryable
        )

    @precondition(lambda self: any(a.outcome for a in self.model.attempts))
    @rule(data=st.data())
    def replay_finished_report(self, data):
        """A bot resends a report that already went through: same answer, no change."""
        finished = [
            a
            for a in self.model.attempts
            if a.outcome in (AttemptOutcome.COMPLETED, AttemptOutcome.FAILED)
        ]
        if not finished:
            return
        attempt = self.draw(data, finished, "attempt")
        bot = self.bot_by_pk(attempt.bot_id)
        before = self.snapshot()
        if attempt.outcome == AttemptOutcome.COMPLETED:
            phase = phase_complete(phase_id=attempt.phase.pk, bot=bot, lease_token=attempt.token)
            assert phase.pk == attempt.phase.pk
        else:
            outcome = phase_fail(
                phase_id=attempt.phase.pk,
                bot=bot,
                lease_token=attempt.token,
                category=FailureCategory.UNKNOWN,
                reason="resent",
            )
            assert outcome.replayed
            assert outcome.decision == attempt.decision
        assert self.snapshot() == before

    @rule(data=st.data(), action=st.sampled_from(["heartbeat", "complete", "fail"]))
    def report_with_stale_lease(self, data, action):
        """Reports with a lease that is no longer (or never was) valid are refused: a made-up
        token, garbage, or the token of an attempt that already ended (other than a resent
        report of the same outcome, which replay_finished_report covers)."""
        phase = self.pick_phase(data, S.IN_PROGRESS)
        replayable = {"complete": AttemptOutcome.COMPLETED, "fail": AttemptOutcome.FAILED}
        old = [
            a
            for a in self.model.attempts
            if a.phase is phase and a.outcome and a.outcome != replayable.get(action)
        ]
        kind = data.draw(
            st.sampled_from(["random", "garbage", "old"] if old else ["random", "garbage"])
        )
        bot, token = self.draw(data, self.bots, "bot"), uuid.uuid4()
        if kind == "garbage":
            token = "not-a-lease"
        elif kind == "old":
            attempt = self.draw(data, old, "attempt")
            bot, token = self.bot_by_pk(attempt.bot_id), attempt.token
        self.stale_report(phase, bot, token, action)

    # --- clock and scheduler ------------------------------------------------------------------

    @rule(step=st.just(timedelta(0)) | clock_steps, then_tick=st.booleans())
    def advance_clock(self, step, then_tick):
        """Time passes (or not), and the scheduler ticks (or not yet)."""
        self._clock.shift(step)
        if then_tick:
            self.run_tick()

    @precondition(lambda self: self.model.with_status(S.IN_PROGRESS))
    @rule(
        data=st.data(),
        extra=st.just(0) | st.integers(min_value=0, max_value=600),
        report=st.sampled_from(["heartbeat", "complete", "fail"]),
    )
    def lease_runs_out(self, data, extra, report):
        """The clock reaches the end of a lease (exactly, or a little past it); the bot's late
        report is refused, and the scheduler sweeps every lease that has ended."""
        phase = self.draw(data, self.model.with_status(S.IN_PROGRESS), "phase")
        self._clock.shift(phase.lease_expires_at - self.now() + timedelta(seconds=extra))
        self.stale_report(phase, self.bot_by_pk(phase.bot_id), phase.lease_token, report)
        self.run_tick()

    def run_tick(self):
        now = self.now()
        # A lease ends at its expiry instant: from then on reports are refused and the
        # scheduler sweeps it (read before the tick; the model catches up after it).
        expiring = self.model.expiring(now)
        report = tick()
        expected = self.model.tick(
            now=now, expiring=expiring, read_retry_at=self.db_next_attempt_at
        )

        assert (report.expired, report.unlocked, report.assigned, report.starved) == (
            expected.expired,
            expected.unlocked,
            expected.assigned,
            expected.starved,
        )
        assert report.escalated == expected.escalated

    # --- reviewers ----------------------------------------------------------------------------

    @rule(
        data=st.data(),
        method=st.sampled_from(ResolutionMethod.values),
        reason_code=st.sampled_from(ReasonCode.values),
        note=notes,
    )
    def resolve(self, data, method, reason_code, note):
        self.do_resolve(self.pick_phase(data, S.REVIEW_REQUIRED), method, reason_code, note)

    @precondition(lambda self: self.model.with_status(S.REVIEW_REQUIRED))
    @rule(method=st.sampled_from(ResolutionMethod.values), note=notes)
    def work_the_queue(self, method, note):
        """A reviewer takes the head of the queue (highest escalation level, then longest in
        review), reactivates its account if it must, and resolves it."""
        phase = self.model.queue_head()
        if phase.account.status != AccountStatus.ACTIVE:
            self.do_account_status(phase.account, note, pause=False)
        self.do_resolve(phase, method, ReasonCode.OTHER, note)

    def do_resolve(self, phase: MPhase, method: str, reason_code: str, note: str):
        kwargs = {"phase_id": phase.pk, "reason_code": reason_code, "note": note}
        fn = RESOLVERS[method]
        if phase.status != S.REVIEW_REQUIRED:
            self.refused(InvalidTransition, fn, **kwargs, actor=self.actor)
            return
        if method == ResolutionMethod.RETRY and phase.requires_content and phase.content_id is None:
            # Held before the scheduler gave it content: "retry with the same content" has
            # none to retry with (resume is the way).
            self.refused(InvalidTransition, fn, **kwargs, actor=self.actor)
            return
        if (
            method in (ResolutionMethod.RESUME, ResolutionMethod.RETRY)
            and phase.account.status != AccountStatus.ACTIVE
        ):
            self.refused(NotClaimable, fn, **kwargs, actor=self.actor)
            return
        now = self.now()
        before = (phase.review_required_since, phase.escalation_level, phase.retry_count)

        result = fn(**kwargs, actor=self.actor)

        self.model.resolve(phase, method, now=now)
        assert result.status == phase.status

        log = ReviewLog.objects.filter(phase_id=phase.pk).order_by("-id").first()
        assert log.action == RESOLUTION_ACTIONS[method]
        assert (log.from_status, log.to_status) == (S.REVIEW_REQUIRED, phase.status)
        assert (log.resolution_method, log.reason_code, log.note) == (
            method,
            reason_code,
            note.strip(),
        )
        assert log.actor_user_id == self.reviewer.pk
        # The review clock ran from entering review to now; level and retries from before.
        assert log.time_in_review == now - before[0]
        assert (log.escalation_level, log.retry_count) == before[1:]

    @rule(data=st.data(), note=notes)
    def hold(self, data, note):
        self.do_hold(self.pick_phase(data, S.AVAILABLE, S.CONTENT_ASSIGNED, S.IN_PROGRESS), note)

    def do_hold(self, phase: MPhase, note: str):
        kwargs = {"phase_id": phase.pk, "note": note, "actor": self.actor}
        if phase.status not in (S.AVAILABLE, S.CONTENT_ASSIGNED, S.IN_PROGRESS):
            self.refused(InvalidTransition, review_hold, **kwargs)
            return
        review_hold(**kwargs)
        self.model.hold(phase, now=self.now())

    @rule(data=st.data(), who=st.sampled_from(["me", "other", "nobody"]))
    def assign(self, data, who):
        phase = self.pick_phase(data, S.REVIEW_REQUIRED)
        assignee = {"me": self.reviewer, "other": self.other_reviewer, "nobody": None}[who]
        kwargs = {"phase_id": phase.pk, "assignee": assignee, "actor": self.actor}
        if phase.status != S.REVIEW_REQUIRED:
            self.refused(InvalidTransition, review_assign, **kwargs)
            return
        new_id = assignee.pk if assignee is not None else None
        review_assign(**kwargs)
        self.model.assign(phase, new_id)

    @rule(data=st.data(), note=notes)
    def comment(self, data, note):
        phase = self.draw(data, self.model.phases, "phase")
        review_comment(phase_id=phase.pk, note=note, actor=self.actor)
        self.model.comment()

    @rule(data=st.data(), category=categories, note=notes)
    def recategorise(self, data, category, note):
        phase = self.pick_phase(data, S.REVIEW_REQUIRED)
        kwargs = {"phase_id": phase.pk, "category": category, "note": note, "actor": self.actor}
        if phase.status != S.REVIEW_REQUIRED:
            self.refused(InvalidTransition, review_recategorize, **kwargs)
            return
        review_recategorize(**kwargs)
        self.model.recategorise(phase, category)

    @rule(data=st.data(), note=notes, pause=st.integers(min_value=0, max_value=3))
    def account_status(self, data, note, pause):
        """An operator pauses an account, or a reviewer reactivates one."""
        self.do_account_status(self.draw(data, self.model.accounts, "account"), note, pause <= 1)

    def do_account_status(self, account: MAccount, note: str, pause: bool):
        kwargs = {"account": Account(pk=account.pk), "actor": self.actor, "note": note}
        if pause:
            if account.status != AccountStatus.ACTIVE:
                self.refused(InvalidTransition, account_pause, **kwargs)
                return
            account_pause(**kwargs)
            self.model.pause(account)
            return
        if account.status == AccountStatus.ACTIVE:
            self.refused(InvalidTransition, account_reactivate, **kwargs)
            return
        account_reactivate(**kwargs)
        self.model.reactivate(account)

    @rule(data=st.data(), blank=blank_notes, which=st.integers(min_value=0, max_value=6))
    def invalid_input(self, data, blank, which):
        """Missing notes, reason codes or categories are refused before anything is looked at."""
        phase = self.pick_phase(data, S.REVIEW_REQUIRED, S.IN_PROGRESS)
        actor = self.actor
        if which == 0:
            method = data.draw(st.sampled_from(ResolutionMethod.values))
            self.refused(
                InvalidInput,
                RESOLVERS[method],
                phase_id=phase.pk,
                reason_code=ReasonCode.OTHER,
                note=blank,
                actor=actor,
            )
        elif which == 1:
            method = data.draw(st.sampled_from(ResolutionMethod.values))
            code = data.draw(st.sampled_from(["", None, "because", "FALSE_ALARM"]))
            self.refused(
                InvalidInput,
                RESOLVERS[method],
                phase_id=phase.pk,
                reason_code=code,
                note="note",
                actor=actor,
            )
        elif which == 2:
            self.refused(InvalidInput, review_comment, phase_id=phase.pk, note=blank, actor=actor)
        elif which == 3:
            self.refused(InvalidInput, review_hold, phase_id=phase.pk, note=blank, actor=actor)
        elif which == 4:
            self.refused(
                InvalidInput,
                review_recategorize,
                phase_id=phase.pk,
                category="gremlins",
                note="note",
                actor=actor,
            )
        elif which == 5:
            self.refused(
                InvalidInput,
                account_reactivate,
                account=Account(pk=phase.account.pk),
                note=blank,
                actor=actor,
            )
        else:
            bot = next((b for b in self.bots if b.pk == phase.bot_id), self.bots[0])
            self.refused(
                InvalidInput,
                phase_fail,
                phase_id=phase.pk,
                bot=bot,
                lease_token=phase.lease_token or uuid.uuid4(),
                category="gremlins",
                reason="?",
            )

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def database_keeps_its_invariants(self):
        phases = list(WarmupPhase.objects.order_by("account_id", "order"))
        attempts = list(PhaseAttempt.objects.order_by("phase_id", "number"))
        self.check_status_fields(phases)
        self.check_retry_counts(phases, attempts)
        self.check_phase_order(phases)
        self.check_attempts(phases, attempts)
        self.check_review_log()
        self.check_content()
        self.check_model(phases, attempts)

    def check_status_fields(self, phases):
        for p in phases:
            leased = p.lease_token is not None and p.lease_expires_at is not None
            assert (p.status == S.IN_PROGRESS) == leased, p
            if p.status == S.IN_PROGRESS:
                assert p.bot_id is not None, p
            assert (p.status == S.REVIEW_REQUIRED) == (p.review_required_since is not None), p
            if p.status != S.REVIEW_REQUIRED:
                assert p.escalation_level == 0 and p.review_assignee_id is None, p
            completed = p.completed_at is not None and p.completion_method != ""
            assert (p.status == S.COMPLETED) == completed, p
            if p.status == S.CONTENT_ASSIGNED:
                assert p.next_attempt_at is not None, p
            needs_content = self.model.phase(p.pk).requires_content
            if p.status in (S.CONTENT_ASSIGNED, S.IN_PROGRESS) and needs_content:
                # A bot must never be handed a phase that needs content without any.
                assert p.content_id is not None, p

    def check_retry_counts(self, phases, attempts):
        """retry_count is set only by a retried failure, and never beyond that category's
        max_retries (DESIGN.md's table; a recategorisation afterwards does not matter)."""
        for p in phases:
            if p.retry_count == 0:
                continue
            retried = [
                a
                for a in attempts
                if a.phase_id == p.pk and a.decision == FailureDecision.RETRY_SCHEDULED
            ]
            assert retried, p
            last = retried[-1]
            assert last.retry_count_after == p.retry_count, p
            assert p.retry_count <= MAX_RETRIES[last.failure_category], (p, last)

    def check_phase_order(self, phases):
        by_account = {}
        for p in phases:
            by_account.setdefault(p.account_id, []).append(p)
        for account_phases in by_account.values():
            active = [i for i, p in enumerate(account_phases) if p.status in ACTIVE_STATUSES]
            assert len(active) <= 1, account_phases
            statuses = [p.status for p in account_phases]
            if active:
                i = active[0]
                assert all(s == S.COMPLETED for s in statuses[:i]), statuses
                assert all(s == S.PENDING for s in statuses[i + 1 :]), statuses
            else:
                done = statuses.count(S.COMPLETED)
                assert statuses == [S.COMPLETED] * done + [S.PENDING] * (len(statuses) - done)

    def check_attempts(self, phases, attempts):
        for p in phases:
            mine = [a for a in attempts if a.phase_id == p.pk]
            assert p.attempt_count == len(mine), p
            assert [a.number for a in mine] == list(range(1, len(mine) + 1)), p
            running = [a for a in mine if not a.outcome]
            if p.status == S.IN_PROGRESS:
                assert len(running) == 1, p
                assert running[0].lease_token == p.lease_token, p
                assert running[0].bot_id == p.bot_id, p
            else:
                assert running == [], p

    def check_review_log(self):
        actual = Counter(dict(sql(f"SELECT action, COUNT(*) FROM {LOG_TABLE} GROUP BY action")))
        assert actual == +self.model.logs

    def check_content(self):
        used = dict(sql(f"SELECT id, times_used FROM {CONTENT_TABLE}"))
        assert used == {pk: c.times_used for pk, c in self.model.content.items()}
        assert sum(used.values()) == self.model.content_assignments

    def check_model(self, phases, attempts):
        for p in phases:
            m = self.model.phase(p.pk)
            actual = (
                p.status,
                p.retry_count,
                p.attempt_count,
                p.last_failure_category,
                p.available_at,
                p.next_attempt_at,
                p.content_id,
                p.lease_token,
                p.lease_expires_at,
                p.review_required_since,
                p.escalation_level,
                p.review_assignee_id,
                p.completed_at,
                p.completion_method,
            )
            expected = (
                m.status,
                m.retry_count,
                m.attempt_count,
                m.last_failure_category,
                m.available_at,
                m.next_attempt_at,
                m.content_id,
                m.lease_token,
                m.lease_expires_at,
                m.review_required_since,
                m.escalation_level,
                m.review_assignee_id,
                m.completed_at,
                m.completion_method,
            )
            assert actual == expected, m
            if p.status == S.IN_PROGRESS:
                assert p.bot_id == m.bot_id, m
        assert [(a.phase_id, a.number, a.bot_id, a.lease_token, a.outcome) for a in attempts] == [
            (a.phase.pk, a.number, a.bot_id, a.token, a.outcome)
            for a in sorted(self.model.attempts, key=lambda a: (a.phase.pk, a.number))
        ]
        statuses = dict(sql(f"SELECT id, status FROM {ACCOUNT_TABLE}"))
        assert statuses == {a.pk: a.status for a in self.model.accounts}
