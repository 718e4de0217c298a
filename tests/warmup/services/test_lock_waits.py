"""Row locks that must never make a bot or the scheduler wait (PostgreSQL, real threads): a
claim skips the row another claim holds, and the scheduler locks only the content it may use.

A thread that would wait gives up after LOCK_TIMEOUT with a lock error instead, so a lost
SKIP LOCKED or a lock on the wrong rows fails the test at once rather than hanging it.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from tests.conftest import requires_postgres
from tests.factories import AccountFactory, BotFactory, ContentItemFactory
from tests.warmup.services.test_concurrency import THREAD_TIMEOUT, errors_of, run_together
from warmup.models import ContentItem, PhaseStatus, WarmupPhase
from warmup.services.bot_work import phase_claim
from warmup.services.tick import tick

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_plan"),
]

LOCK_TIMEOUT = "5s"


def without_waiting(work):
    """Run `work()` in a transaction whose lock waits fail after LOCK_TIMEOUT."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        return work()


def holding_while(take_lock, done: threading.Event, held: threading.Event):
    """A thread's work: take a row lock in a transaction and keep it until `done` is set."""

    def hold():
        with transaction.atomic():
            result = take_lock()
            held.set()
            return result, done.wait(THREAD_TIMEOUT)

    return hold


def test_a_claim_skips_the_phase_another_claim_holds_instead_of_waiting(content_pool):
    first, second = AccountFactory.create_batch(2)
    tick()
    holder, claimer = BotFactory(), BotFactory()
    held, done = threading.Event(), threading.Event()

    def claim_meanwhile():
        held.wait(THREAD_TIMEOUT)
        try:
            return without_waiting(lambda: phase_claim(bot=claimer))
        finally:
            done.set()

    outcomes = run_together(
        holding_while(lambda: phase_claim(bot=holder), done, held), claim_meanwhile
    )

    # the second bot got the other phase while the first still held its claim open
    assert errors_of(outcomes) == []
    (held_phase, claimed_while_held), got = outcomes[0][0], outcomes[1][0]
    assert claimed_while_held is True
    assert {held_phase.account_id, got.account_id} == {first.pk, second.pk}
    assert WarmupPhase.objects.filter(status=PhaseStatus.IN_PROGRESS).count() == 2


def test_the_tick_does_not_wait_for_a_lock_on_inactive_content(account):
    # given an inactive item of the phase's type that someone is editing (its row locked)
    retired = ContentItemFactory(phase_type="profile_bio", is_active=False)
    held, done = threading.Event(), threading.Event()

    def lock_retired():
        return ContentItem.objects.select_for_update().get(pk=retired.pk)

    def tick_meanwhile():
        held.wait(THREAD_TIMEOUT)
        try:
            return without_waiting(tick)
        finally:
            done.set()

    outcomes = run_together(holding_while(lock_retired, done, held), tick_meanwhile)

    # then the tick assigned active content while the edit was still open
    assert errors_of(outcomes) == []
    assert outcomes[0][0][1] is True
    assert outcomes[1][0].assigned == 1
    phase = account.phases.get(order=1)
    assert phase.status == PhaseStatus.CONTENT_ASSIGNED and phase.content.is_active
