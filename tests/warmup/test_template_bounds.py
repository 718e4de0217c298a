"""A plan step's lease and delay stay within bounds: the admin refuses a value that would
overflow a date, and a value stored anyway (an old row, a raw update) cannot stop the fleet."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from tests.factories import WarmupPhaseFactory
from warmup.models import MAX_LEASE, MAX_STEP_DELAY, PhaseTemplate, WarmupPhase
from warmup.services.bot_work import phase_claim, phase_heartbeat
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db

HUGE = timedelta(days=3_000_000)


@pytest.mark.parametrize("field", ["lease_duration", "delay"])
def test_full_clean_refuses_a_time_that_would_overflow(field):
    template = PhaseTemplate.objects.get(plan__slug="default", order=1)
    setattr(template, field, HUGE)

    with pytest.raises(ValidationError) as refused:
        template.full_clean()

    assert field in refused.value.message_dict


def test_a_huge_stored_lease_still_lets_bots_claim_with_a_capped_lease(account, bot):
    PhaseTemplate.objects.filter(plan__slug="default").update(lease_duration=HUGE)
    tick()

    claimed = phase_claim(bot=bot)
    extended = phase_heartbeat(phase_id=claimed.pk, bot=bot, lease_token=claimed.lease_token)

    assert claimed is not None
    assert claimed.lease_expires_at - claimed.attempts.get().claimed_at == MAX_LEASE
    assert extended.lease_expires_at <= claimed.lease_expires_at + timedelta(minutes=1)


def test_a_huge_stored_delay_schedules_the_next_phase_within_bounds(account, bot):
    PhaseTemplate.objects.filter(plan__slug="default", order=2).update(delay=HUGE)

    done = WarmupPhaseFactory(account=account, bot=bot, completed=True)

    following = WarmupPhase.objects.get(account=account, order=2)
    assert following.available_at - done.completed_at == MAX_STEP_DELAY
