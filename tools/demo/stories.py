"""Telling the demo's scripted stories: one account at a time through its scenario (see
scenarios.py), driven by the real services. Status is never assigned here; the only shortcuts
move waiting times that "have passed" (an unlock time, a backoff, a lease) with
QuerySet.update()."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db.models import Min
from django.utils import timezone

from tools.demo.backdate import backdate
from tools.demo.material import FAILURES
from tools.demo.scenarios import Scenario
from warmup.domain.actors import Actor
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


class DemoError(Exception):
    """The demo could not be built as scripted (another process changed the data meanwhile)."""


class Storyteller:
    """Drives one account at a time through its scenario with the real services: the
    scheduler tick, bot claims and reports, review actions."""

    def __init__(self, *, bots, people, plan):
        self.bots = bots
        self.people = people
        self.plan = plan
        self.rng = random.Random(7)
        self.count = 0

    def tell(self, scenario: Scenario, *, platform: str, username: str) -> Account:
        account = account_enrol(platform=platform, username=username, plan=self.plan)
        self.count += 1
        aged = False
        for step in scenario.steps:
            op, *args = (step,) if isinstance(step, str) else step
            if op == "age":
                if aged:
                    raise ValueError(f"scenario {scenario.name}: one 'age' step at most")
                aged = True
            getattr(self, f"_{op}")(account, *args)
        return account

    # Bot side ------------------------------------------------------------------------------

    def _bot(self, phase) -> Bot:
        return self.bots[(self.count + phase.attempt_count) % len(self.bots)]

    def _current(self, account) -> WarmupPhase | None:
        phases = WarmupPhase.objects.filter(account=account).select_related("template")
        return (
            phases.filter(status__in=ACTIVE_STATUSES).first()
            or phases.filter(status=S.PENDING).order_by("order").first()
        )

    def _make_claimable(self, account) -> WarmupPhase:
        phase = self._current(account)
        if phase.status == S.PENDING:
            # The delay after the previous phase "has passed".
            WarmupPhase.objects.filter(pk=phase.pk).update(available_at=timezone.now())
        if phase.status in (S.PENDING, S.AVAILABLE):
            tick()
            phase = self._current(account)
        if phase.status == S.CONTENT_ASSIGNED and phase.next_attempt_at > timezone.now():
            # The retry backoff "has passed".
            WarmupPhase.objects.filter(pk=phase.pk).update(next_attempt_at=timezone.now())
        if phase.status != S.CONTENT_ASSIGNED:
            raise DemoError(f"{account}: expected a claimable phase, found {phase}")
        return phase

    def _claim(self, account) -> WarmupPhase:
        phase = self._make_claimable(account)
        # Claims go to the phase waiting longest; put this one first in line.
        earliest = (
            claimable_phases(now=timezone.now())
            .exclude(pk=phase.pk)
            .aggregate(at=Min("next_attempt_at"))["at"]
        )
        if earliest is not None:
            WarmupPhase.objects.filter(pk=phase.pk).update(
                next_attempt_at=min(timezone.now(), earliest - timedelta(seconds=1))
            )
        claimed = phase_claim(
            bot=self._bot(phase), platforms=[account.platform], phase_types=[phase.phase_type]
        )
        if claimed is None or claimed.pk != phase.pk:
            raise DemoError(f"{account}: another process claimed a phase while seeding")
        return claimed

    def _ok(self, account):
        phase = self._claim(account)
        result = {"url": f"https://example.com/{account.username}/{phase.phase_type}"}
        phase_complete(
            phase_id=phase.pk, bot=phase.bot, lease_token=phase.lease_token, result=result
        )

    def _fail(self, account, category):
        phase = self._claim(account)
        reason, details = FAILURES[category]
        phase_fail(
            phase_id=phase.pk,
            bot=phase.bot,
            lease_token=phase.lease_token,
            category=category,
            reason=reason.format(platform=account.get_platform_display()),
            details={**details, "phase_type": phase.phase_type},
        )

    def _expire(self, account):
        phase = self._claim(account)
        WarmupPhase.objects.filter(pk=phase.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        tick()

    def _ready(self, account):
        self._make_claimable(account)

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

    # Time ----------------------------------------------------------------------------------

    def _age(self, account, age: timedelta):
        backdate(account, age, rng=self.rng)
        reviews_escalate_due(now=timezone.now())
