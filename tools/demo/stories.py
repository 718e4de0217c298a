"""Telling the demo's scripted stories: one account at a time through its scenario (see
scenarios.py), driven by the real services, each at the time it happened.

The services read the time from `django.utils.timezone.now()`; while a story is told the
storyteller's clock (DemoClock) stands in for it, so every timestamp they write falls where the
story puts it: enrolment, claims, reports, leases, review-required-since, and the review log,
whose rows cannot change once written (append-only, hash-chained) and so must be written at
their time. Waiting times pass on that clock (an unlock time, a backoff, a lease, an escalation
threshold); the only shortcut left moves a wait that would end after the present (never taken
by the scenarios as written). Status is never assigned here.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from tools.demo.material import FAILURES
from tools.demo.scenarios import Scenario
from warmup.domain.actors import Actor
from warmup.domain.policy import policy_for
from warmup.models import ACTIVE_STATUSES, Account, Bot, PhaseStatus, WarmupPhase
from warmup.services.accounts import account_enrol, account_reactivate
from warmup.services.bot_work import claimable_phases, phase_claim, phase_complete, phase_fail
from warmup.services.resolutions import review_resolve
from warmup.services.review import (
    review_assign,
    review_comment,
    review_hold,
    review_recategorize,
    reviews_escalate_due,
)
from warmup.services.tick import tick

S = PhaseStatus
BOT_STEPS = ("ok", "fail", "expire", "claim")
WORK_SECONDS = (40, 170)  # a bot's claim to its report (or the scheduler noticing a lease)
GAP_MINUTES = (3, 25)  # between one thing and the next: a bot polling, a reviewer's next step
RECENT_MINUTES = (4, 6)  # the last thing of a story told "now" happened this long ago


class _Longest:
    """An rng whose draws are the largest allowed: a backoff's longest, jitter included."""

    @staticmethod
    def uniform(low: float, high: float) -> float:
        return high


class DemoClock:
    """The time the services read while a story is told (see the module docstring)."""

    def __init__(self):
        self.real_now = timezone.now
        self.at: datetime | None = None

    @contextmanager
    def running(self, at: datetime) -> Iterator[DemoClock]:
        previous, self.at = timezone.now, at
        timezone.now = lambda: self.at
        try:
            yield self
        finally:
            timezone.now, self.at = previous, None


class DemoError(Exception):
    """The demo could not be built as scripted (another process changed the data meanwhile)."""


class Storyteller:
    """Drives one account at a time through its scenario with the real services (the
    scheduler tick, bot claims and reports, review actions), on its clock: the steps before
    the scenario's ("age", d) end d ago, those after it lead up to the present."""

    def __init__(self, *, bots, people, plan):
        self.bots = bots
        self.people = people
        self.plan = plan
        self.rng = random.Random(7)
        self.count = 0
        self.clock = DemoClock()
        self.templates = list(plan.templates.order_by("order"))

    def tell(self, scenario: Scenario, *, platform: str, username: str) -> Account:
        before, age, after = _split(scenario)
        self.count += 1
        now = self.clock.real_now()
        self.present = now
        end = now - (age if age is not None else self._minutes(RECENT_MINUTES))
        # Each step's pause before it and the time its bot works, drawn once: the story's start
        # is worked out from them, so that its steps before the age end by `end`.
        draws = [(self._minutes(GAP_MINUTES), self._seconds(WORK_SECONDS)) for _ in before]
        enrolled = self._minutes(GAP_MINUTES)  # before the first thing happens to it
        start = end - self._longest_span(before, draws) - enrolled
        moments = self._moments_after(len(after), end=end, now=now)
        with self.clock.running(start):
            account = account_enrol(platform=platform, username=username, plan=self.plan)
            self._advance(account, start + enrolled)
            for step, (gap, work) in zip(before, draws, strict=True):
                self._step(account, step, gap=gap, work=work)
            self._advance(account, end)
            for step, moment in zip(after, moments, strict=True):
                self._advance(account, moment)
                self._step(account, step, gap=timedelta(0), work=self._seconds(WORK_SECONDS))
            if self.clock.at > now:
                raise DemoError(f"{account}: the story {scenario.name} ran past the present")
            self._advance(account, now)  # the escalations due by now, each at its time
        return account

    # The timeline ------------------------------------------------------------------------

    def _minutes(self, bounds) -> timedelta:
        return timedelta(minutes=self.rng.randint(*bounds))

    def _seconds(self, bounds) -> timedelta:
        return timedelta(seconds=self.rng.randint(*bounds))

    def _longest_span(self, steps, draws) -> timedelta:
        """The longest the steps can take with these draws: template delays as they are,
        backoffs at their longest (jitter included), so the story never ends late."""
        span, wait, index, retries = timedelta(0), timedelta(0), 0, 0
        for step, (gap, work) in zip(steps, draws, strict=True):
            op, *args = (step,) if isinstance(step, str) else step
            span += wait + gap
            wait = timedelta(0)
            template = self.templates[min(index, len(self.templates) - 1)]
            if op == "ok":
                span += work
                index, retries = index + 1, 0
                if index < len(self.templates):
                    wait = self.templates[index].delay
            elif op in ("fail", "expire"):
                category = args[0] if op == "fail" else "lease_expired"
                span += work + (template.lease_duration if op == "expire" else timedelta(0))
                retries += 1
                wait = policy_for(category, template).backoff(retries, rng=_Longest())
        return span

    def _moments_after(self, count: int, *, end: datetime, now: datetime) -> list[datetime]:
        """When the steps after the age happen: a reviewer's pace, the last a few minutes
        ago, all after `end` (closer together when the age is short)."""
        if not count:
            return []
        last = now - self._minutes(RECENT_MINUTES)
        moments = [last]
        for _ in range(count - 1):
            moments.insert(0, moments[0] - self._minutes(GAP_MINUTES))
        if moments[0] <= end:
            step = (last - end) / (count + 1)
            moments = [end + step * (i + 1) for i in range(count)]
        return moments

    def _advance(self, account, moment: datetime) -> None:
        """Move the clock on to `moment` (never back), raising the escalations of the
        account's item in review at the moments they fall due, as the scheduler would."""
        moment = max(moment, self.clock.at)
        item = WarmupPhase.objects.filter(account=account, status=S.REVIEW_REQUIRED).first()
        if item is not None:
            thresholds = sorted(settings.WARMUP_ESCALATION_THRESHOLDS)
            for level, threshold in enumerate(thresholds):
                due = item.review_required_since + threshold
                if level >= item.escalation_level and self.clock.at < due <= moment:
                    self.clock.at = due
                    reviews_escalate_due(now=due)
        self.clock.at = moment

    def _wait_until(self, account, moment: datetime | None) -> bool:
        """Let the clock run to `moment`; False (the clock unmoved) if that is past the
        present, where the caller takes the shortcut."""
        if moment is None or moment <= self.clock.at:
            return True
        if moment >= self.present - timedelta(minutes=1):
            return False
        self._advance(account, moment)
        return True

    def _step(self, account, step, *, gap: timedelta, work: timedelta) -> None:
        op, *args = (step,) if isinstance(step, str) else step
        if op not in BOT_STEPS and op != "ready":
            self._advance(account, self.clock.at + gap)
            getattr(self, f"_{op}")(account, *args)
            return
        if op == "ready":
            self._make_claimable(account, gap=gap)
        else:
            getattr(self, f"_{op}")(account, *args, gap=gap, work=work)

    # Bot side ------------------------------------------------------------------------------

    def _bot(self, phase) -> Bot:
        return self.bots[(self.count + phase.attempt_count) % len(self.bots)]

    def _current(self, account) -> WarmupPhase | None:
        phases = WarmupPhase.objects.filter(account=account).select_related("template")
        return (
            phases.filter(status__in=ACTIVE_STATUSES).first()
            or phases.filter(status=S.PENDING).order_by("order").first()
        )

    def _make_claimable(self, account, *, gap: timedelta) -> WarmupPhase:
        phase = self._current(account)
        if phase.status == S.PENDING and not self._wait_until(account, phase.available_at):
            # Shortcut: the delay after the previous phase "has passed".
            WarmupPhase.objects.filter(pk=phase.pk).update(available_at=self.clock.at)
        self._advance(account, self.clock.at + gap)
        if phase.status in (S.PENDING, S.AVAILABLE):
            tick()
            phase = self._current(account)
        if phase.status == S.CONTENT_ASSIGNED and not self._wait_until(
            account, phase.next_attempt_at
        ):
            # Shortcut: the retry backoff "has passed".
            WarmupPhase.objects.filter(pk=phase.pk).update(next_attempt_at=self.clock.at)
        if phase.status != S.CONTENT_ASSIGNED:
            raise DemoError(f"{account}: expected a claimable phase, found {phase}")
        return phase

    def _claim(self, account, *, gap: timedelta = timedelta(0), work=None) -> WarmupPhase:
        phase = self._make_claimable(account, gap=gap)
        now = self.clock.at
        # Claims go to the phase waiting longest; put this one first in line.
        earliest = (
            claimable_phases(now=now).exclude(pk=phase.pk).aggregate(at=Min("next_attempt_at"))
        )["at"]
        if earliest is not None:
            WarmupPhase.objects.filter(pk=phase.pk).update(
                next_attempt_at=min(now, earliest - timedelta(seconds=1))
            )
        claimed = phase_claim(
            bot=self._bot(phase), platforms=[account.platform], phase_types=[phase.phase_type]
        )
        if claimed is None or claimed.pk != phase.pk:
            raise DemoError(f"{account}: another process claimed a phase while seeding")
        return claimed

    def _ok(self, account, *, gap, work):
        phase = self._claim(account, gap=gap)
        self._advance(account, self.clock.at + work)
        result = {"url": f"https://example.com/{account.username}/{phase.phase_type}"}
        phase_complete(
            phase_id=phase.pk, bot=phase.bot, lease_token=phase.lease_token, result=result
        )

    def _fail(self, account, category, *, gap, work):
        phase = self._claim(account, gap=gap)
        self._advance(account, self.clock.at + work)
        reason, details = FAILURES[category]
        phase_fail(
            phase_id=phase.pk,
            bot=phase.bot,
            lease_token=phase.lease_token,
            category=category,
            reason=reason.format(platform=account.get_platform_display()),
            details={**details, "phase_type": phase.phase_type},
        )

    def _expire(self, account, *, gap, work):
        """The bot goes quiet; the scheduler expires its lease a little after it ends."""
        phase = self._claim(account, gap=gap)
        self._advance(account, phase.lease_expires_at + work)
        tick()

    # Reviewer side -------------------------------------------------------------------------

    def _actor(self, who) -> Actor:
        return Actor.for_user(self.people[who])

    def _in_review(self, account) -> WarmupPhase:
        return WarmupPhase.objects.get(account=account, status=S.REVIEW_REQUIRED)

    def _assign(self, account, who):
        review_assign(
            phase_id=self._in_review(account).pk, assignee=self.people[who], actor=self._actor(who)
        )

    def _comment(self, account, who, note):
        review_comment(phase_id=self._current(account).pk, note=note, actor=self._actor(who))

    def _recategorize(self, account, who, category, note):
        review_recategorize(
            phase_id=self._in_review(account).pk,
            category=category,
            note=note,
            actor=self._actor(who),
        )

    def _hold(self, account, who, note):
        review_hold(phase_id=self._current(account).pk, note=note, actor=self._actor(who))

    def _resolve(self, account, who, method, reason_code, note):
        review_resolve(
            phase_id=self._in_review(account).pk,
            method=method,
            reason_code=reason_code,
            note=note,
            actor=self._actor(who),
        )

    def _reactivate(self, account, who, note):
        account_reactivate(account=account, actor=self._actor(who), note=note)


def _split(scenario: Scenario) -> tuple[list, timedelta | None, list]:
    """The steps before the scenario's ("age", d), d (None without one), the steps after."""
    ages = [i for i, step in enumerate(scenario.steps) if not isinstance(step, str)]
    ages = [i for i in ages if scenario.steps[i][0] == "age"]
    if len(ages) > 1:
        raise ValueError(f"scenario {scenario.name}: one 'age' step at most")
    if not ages:
        return list(scenario.steps), None, []
    i = ages[0]
    return list(scenario.steps[:i]), scenario.steps[i][1], list(scenario.steps[i + 1 :])
