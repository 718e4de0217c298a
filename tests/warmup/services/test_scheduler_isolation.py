"""One row the scheduler cannot handle must not stop it for the rest of the fleet."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from tests.builders import make_in_progress, reload
from tests.factories import AccountFactory
from warmup.models import PhaseStatus
from warmup.scheduler import tick
from warmup.services import scheduling
from warmup.services.phases import expire_lease


def test_a_failing_row_is_logged_and_skipped_while_the_others_move_on(
    account, bot, other_bot, monkeypatch, caplog
):
    # given: two bots hold two phases; one phase hits a fault while its lease expires
    broken = make_in_progress(account, bot)
    healthy = make_in_progress(AccountFactory(), other_bot)

    def fault_for_one(phase, *, now):
        if phase.pk == broken.pk:
            raise RuntimeError("simulated fault")
        return expire_lease(phase, now=now)

    monkeypatch.setattr(scheduling, "expire_lease", fault_for_one)

    # when: both leases have expired and the scheduler runs
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        report = tick()

    # then: the healthy phase was retried, the broken one left as it was, and the fault logged
    assert report.expired == 1
    assert reload(healthy).status == PhaseStatus.CONTENT_ASSIGNED
    assert reload(broken).status == PhaseStatus.IN_PROGRESS
    assert f"Expiring a lease failed for phase {broken.pk}" in caplog.text

    # and once the fault is gone, the next tick picks the broken phase up
    monkeypatch.setattr(scheduling, "expire_lease", expire_lease)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert tick().expired == 1
    assert reload(broken).status == PhaseStatus.CONTENT_ASSIGNED
