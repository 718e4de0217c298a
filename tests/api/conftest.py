"""Fixtures for the HTTP API tests: clients authenticated as a bot or as a reviewer, the
contract's URLs, and a frozen clock."""

from __future__ import annotations

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import UserFactory

BOT = "/api/v1/bot"
CLAIM = f"{BOT}/phases/claim/"
REVIEWS = "/api/v1/reviews/"
HOLD = f"{REVIEWS}hold/"
STATS = f"{REVIEWS}stats/"


def phase_url(phase_id, action: str = "") -> str:
    """/api/v1/bot/phases/{id}/ or /api/v1/bot/phases/{id}/{action}/."""
    return f"{BOT}/phases/{phase_id}/" + (f"{action}/" if action else "")


def account_url(account_id) -> str:
    return f"{BOT}/accounts/{account_id}/"


def review_url(phase_id, action: str = "") -> str:
    """/api/v1/reviews/{id}/ or /api/v1/reviews/{id}/{action}/."""
    return f"{REVIEWS}{phase_id}/" + (f"{action}/" if action else "")


def bot_client(bot, token: str | None = None) -> APIClient:
    """A client sending `Authorization: Bearer <token>` (the bot's own token by default)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token or bot.token}")
    return client


def user_client(user) -> APIClient:
    """A client logged in with a session (as in a browser next to the admin)."""
    client = APIClient()
    client.force_login(user)
    return client


def claim(client, **body):
    return client.post(CLAIM, body, format="json")


def report(client, phase_id, action: str, **body):
    """POST a heartbeat / complete / fail report."""
    return client.post(phase_url(phase_id, action), body, format="json")


def assert_error(response, status: int, code: str) -> dict:
    """The response is a JSON error with this status and code and a human detail."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    """Throttle counters live in the cache, keyed by bot id; ids repeat between tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def frozen():
    """A frozen clock: `frozen.shift(timedelta)`; time stands still between calls."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def bot_api(bot):
    return bot_client(bot)


@pytest.fixture
def other_bot_api(other_bot):
    return bot_client(other_bot)


@pytest.fixture
def reviewer_api(reviewer):
    return user_client(reviewer)


def view_only_user():
    """A staff user who may read the review queue but not act on it."""
    user = UserFactory()
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="reviews", codename="view_reviewitem")
    )
    return user


@pytest.fixture
def viewer(db):
    return view_only_user()
