"""How tests reach the project over HTTP: clients authenticated as a bot or as a reviewer, the
APIs' URLs, the error shape every API error has, and the admin's URLs. The fixtures built on
them are in tests/conftest.py."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.urls import reverse
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


def view_only_user():
    """A staff user who may read the review queue but not act on it."""
    user = UserFactory()
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="reviews", codename="view_reviewitem")
    )
    return user


def changelist(model) -> str:
    """The admin's list page of a model."""
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(obj) -> str:
    """The admin's page of one object."""
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
