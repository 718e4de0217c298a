"""Shared fixtures; tests/factories.py makes rows (a phase in a given status, driven there
through the real services: `WarmupPhaseFactory(account=account, bot=bot, in_review=True)`),
tests/builders.py has small helpers around a phase (reload, fail, stored), tests/clients.py
reaches the APIs and the admin over HTTP. Fixtures used by one folder only live in that
folder's conftest.py."""

from datetime import timedelta
from importlib import import_module

import pytest
import time_machine
from django.apps import apps
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.builders import CONTENT_TYPES
from tests.clients import bot_client, user_client, view_only_user
from tests.factories import (
    AccountFactory,
    BotFactory,
    ContentItemFactory,
    UserFactory,
    WarmupPhaseFactory,
)
from warmup.domain.actors import Actor
from warmup.models import WarmupPhase, WarmupPlan

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


# --- HTTP: the APIs and the admin (tests of both apps and of config) ------------------------


@pytest.fixture(autouse=True)
def _breakers_off(settings):
    """The fleets tests build fail by the dozen in seconds, which the breaker would take for an
    incident and stop; tests/warmup/services/test_breaker.py turns it on with its own rules."""
    settings.WARMUP_BREAKER = {**settings.WARMUP_BREAKER, "enabled": False}


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    """Throttle counters live in the cache, keyed by bot id; ids repeat between tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def bot_api(bot):
    return bot_client(bot)


@pytest.fixture
def reviewer_api(reviewer):
    return user_client(reviewer)


@pytest.fixture
def viewer(db):
    return view_only_user()


@pytest.fixture
def superuser_client(db):
    user = UserFactory(username="root", is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def fleet(content_pool, bot):
    """A waiting review item, an older and escalated one, a bot at work and a finished phase."""
    waiting = WarmupPhaseFactory(
        account=AccountFactory(platform="instagram", username="waiting_one"),
        bot=bot,
        in_review=True,
    )
    escalated = WarmupPhaseFactory(
        account=AccountFactory(platform="instagram", username="escalated_one"),
        bot=bot,
        in_review=True,
        category="login_failed",
    )
    WarmupPhase.objects.filter(pk=escalated.pk).update(
        escalation_level=2, review_required_since=waiting.review_required_since
    )
    working = WarmupPhaseFactory(
        account=AccountFactory(platform="instagram", username="working_one"),
        bot=BotFactory(),
        in_progress=True,
    )
    done = WarmupPhaseFactory(
        account=AccountFactory(platform="instagram", username="done_one"),
        bot=BotFactory(),
        completed=True,
    )
    return {"waiting": waiting, "escalated": escalated, "working": working, "done": done}


@pytest.fixture
def default_plan(transactional_db):
    """The default plan, as its data migration installs it. Transactional tests end with a
    flush that empties every table, data migrations' rows included, so put it back (a no-op
    when it is there)."""
    import_module("warmup.migrations.0002_default_plan").install_default_plan(apps, None)
    return WarmupPlan.objects.get(slug="default")


@pytest.fixture
def fleet_filler(default_plan):
    """`bench.fleet.fill` into the test database, committed: its own table `bench_fleet` is no
    model's, so the test's flush leaves it; it is dropped here after the test."""
    from bench.fleet import fill

    yield fill
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_fleet")


# A history of resolutions over days (the dashboard, the stats API and the report read it).
from tests.history import history  # noqa: E402,F401
