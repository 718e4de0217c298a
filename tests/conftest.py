"""Shared fixtures; tests/builders.py drives phases into each status through the real services,
tests/factories.py makes rows (a phase in a given status: `WarmupPhaseFactory(in_review=True)`)."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from tests.builders import CONTENT_TYPES
from tests.factories import AccountFactory, BotFactory, ContentItemFactory, UserFactory
from warmup.actors import Actor

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (row locks with SKIP LOCKED / database triggers); "
    "SQLite serialises writers and has no such features. Set DATABASE_URL to run it.",
)


@pytest.fixture
def content_pool(db):
    """Two active content items for every phase type of the default plan that takes content."""
    return [ContentItemFactory(phase_type=t) for t in CONTENT_TYPES for _ in range(2)]


@pytest.fixture
def bot(db):
    return BotFactory()


@pytest.fixture
def other_bot(db):
    return BotFactory()


@pytest.fixture
def reviewer(db):
    return UserFactory(reviewer=True)


@pytest.fixture
def reviewer_actor(reviewer):
    return Actor.for_user(reviewer)


@pytest.fixture
def account(db, content_pool):
    return AccountFactory()


@pytest.fixture
def traveller():
    """Move the clock: `traveller.shift(timedelta)`; the clock still ticks between calls."""
    with time_machine.travel(timezone.now(), tick=True) as t:
        yield t


@pytest.fixture
def clock():
    """A frozen clock for exact time arithmetic: `clock.shift(timedelta)`,
    `clock.move_to(datetime)`; time stands still between calls."""
    with time_machine.travel(timezone.now(), tick=False) as t:
        yield t


@pytest.fixture
def hour():
    return timedelta(hours=1)
