"""An account's plan goes on phase by phase: a completion unlocks that account's next phase and
no other's, and the tick says how many phases it unlocked."""

import logging
from datetime import timedelta

from django.utils import timezone

from tests.builders import reload
from tests.factories import AccountFactory, WarmupPhaseFactory
from warmup.domain.actors import Actor
from warmup.lifecycle.state import STEP_DELAY
from warmup.models import PhaseStatus
from warmup.services.accounts import account_pause
from warmup.services.tick import tick


def test_a_completion_schedules_its_own_accounts_next_phase_only(bot, content_pool, clock):
    other = AccountFactory()  # its later phases are pending too, and must stay as they are
    account_pause(account=other, actor=Actor.system(), note="kept still")  # no bot takes it
    account = AccountFactory()
    before = {p.pk: (p.status, p.available_at) for p in other.phases.all()}

    done = WarmupPhaseFactory(account=account, bot=bot, completed=True)
    assert done.account_id == account.pk

    following = account.phases.get(order=done.order + 1)
    assert following.status == PhaseStatus.PENDING
    assert following.available_at == done.completed_at + STEP_DELAY.of(following.template)
    others = {p.pk: (p.status, p.available_at) for p in other.phases.exclude(order=1)}
    assert others == {pk: value for pk, value in before.items() if pk in others}


def test_the_tick_reports_each_phase_it_unlocked(bot, content_pool, clock):
    waiting = [
        WarmupPhaseFactory(account=AccountFactory(), bot=bot, pending=True) for _ in range(2)
    ]
    clock.shift(timedelta(days=2))

    report = tick()

    assert report.unlocked == 2
    assert {reload(p).status for p in waiting} <= {
        PhaseStatus.AVAILABLE,
        PhaseStatus.CONTENT_ASSIGNED,
    }


def test_a_due_phase_waits_while_its_account_has_an_active_phase(bot, content_pool, clock, caplog):
    # given: two accounts whose second phase is due; one account's first phase is back in
    # review (an undone completion leaves a still-pending next phase its unlock time)
    moving = WarmupPhaseFactory(account=AccountFactory(), bot=bot, pending=True)
    held = WarmupPhaseFactory(account=AccountFactory(), bot=bot, pending=True)
    held.account.phases.filter(order=held.order - 1).update(
        status=PhaseStatus.REVIEW_REQUIRED,
        review_required_since=timezone.now(),
        completed_at=None,
        completion_method="",
    )
    clock.shift(timedelta(days=2))

    # when the tick runs
    report = tick()

    # then only the account with nothing active moves on, and waiting is no failure to log
    assert report.unlocked == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert reload(moving).status != PhaseStatus.PENDING
    assert reload(held).status == PhaseStatus.PENDING
