"""The scheduler gives a phase the least-used content of its type, and only content still in
use: retired items are never handed to a bot."""

from tests.builders import first_phase, reload
from tests.factories import AccountFactory, ContentItemFactory
from warmup.models import PhaseStatus
from warmup.services.tick import tick


def test_retired_content_is_never_assigned_even_if_least_used(db):
    ContentItemFactory(phase_type="profile_bio", is_active=False, times_used=0)
    in_use = ContentItemFactory(phase_type="profile_bio", times_used=5)
    account = AccountFactory()

    tick()

    phase = reload(first_phase(account))
    assert phase.status == PhaseStatus.CONTENT_ASSIGNED
    assert phase.content == in_use


def test_more_starved_phases_than_a_batch_are_each_counted_once(db, settings):
    # A starved phase stays available, so the next batch must start after it, not again.
    settings.WARMUP_TICK_BATCH_SIZE = 2
    accounts = [AccountFactory() for _ in range(5)]  # no content of their first type at all

    report = tick()

    assert (report.assigned, report.starved) == (0, 5)
    assert {reload(first_phase(a)).status for a in accounts} == {PhaseStatus.AVAILABLE}
