"""The incidents' 24-hour trend counts each failure in the hour it happened, on both databases."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.incidents import proxy_incident
from warmup.models import PhaseAttempt
from warmup.selectors.incidents import open_incidents

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)
FIRST_HOUR = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)  # the trend's oldest hour, 24 with now's


def test_each_failure_counts_in_its_own_hour_of_the_last_24(bot):
    items = proxy_incident(bot, 6)
    failed_at = [
        FIRST_HOUR - timedelta(seconds=1),  # before the window: not counted
        FIRST_HOUR,  # the first hour's first second
        FIRST_HOUR + timedelta(minutes=59, seconds=59, microseconds=999_999),
        FIRST_HOUR + timedelta(hours=1),  # the second hour's first second
        NOW - timedelta(hours=2),
        NOW,
    ]
    for item, when in zip(items, failed_at, strict=True):
        PhaseAttempt.objects.filter(phase=item).update(finished_at=when)

    [incident] = open_incidents(now=NOW)

    expected = [0] * 24
    expected[0], expected[1], expected[21], expected[23] = 2, 1, 1, 1
    assert incident.trend == expected
