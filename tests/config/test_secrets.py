"""Secrets are shown once and never again: a bot's token and a reviewer's review API token appear
on the one page that creates them (or the one line a command prints) and nowhere after: not on
any admin page, in the admin's history, in a message cookie, in a log line at DEBUG (the SQL
included) nor in the log of a request that carried them, failed or not."""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from config.logs import formatter
from tests.clients import CLAIM, REVIEWS, STATS, bot_client, changelist, phase_url, review_url
from tests.factories import BotFactory, UserFactory
from warmup.models import Bot

pytestmark = pytest.mark.django_db

BOT_ADD = reverse("admin:warmup_bot_add")
TOKEN_ADD = reverse("admin:reviews_apitoken_add")
TOKENS = reverse("admin:reviews_apitoken_changelist")
NEVER_CACHED = ("no-store", "no-cache", "private")


@pytest.fixture
def logged(caplog):
    """Everything written to the log from here on, every logger at DEBUG, as the JSON and the
    key=value formats render it, tracebacks included."""
    caplog.set_level(logging.DEBUG)
    renderers = [formatter("json"), formatter("keyvalue")]
    return lambda: "\n".join(r.format(record) for record in caplog.records for r in renderers)


@pytest.fixture
def logged_with_sql(logged):
    """The log as above plus the SQL, which Django logs at DEBUG when DEBUG is on: a token is
    stored and looked up by its prefix and hash, so no statement carries it."""
    with CaptureQueriesContext(connection) as queries:
        yield lambda: "\n".join([logged(), *(q["sql"] for q in queries.captured_queries)])


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown_token(response, field_id: str) -> str:
    page = response.content.decode()
    match = re.search(rf'value="([^"]+)"[^>]*id="{field_id}"', page)
    assert match and match.group(1), page[:2000]
    return match.group(1)


def assert_shown_once_and_never_cached(response, secret: str) -> None:
    assert response.status_code == 200
    assert response.content.decode().count(secret) == 1
    assert all(word in response["Cache-Control"] for word in NEVER_CACHED)
    assert all(secret not in morsel.value for morsel in response.cookies.values())


def admin_history_text() -> str:
    return "\n".join(
        f"{e.object_id} {e.object_repr} {e.change_message}" for e in LogEntry.objects.all()
    )


# --- Bot tokens ------------------------------------------------------------------------------


def test_a_bot_token_is_on_its_creation_page_only(logged_with_sql):
    logged = logged_with_sql
    lead = UserFactory(lead=True)
    admin = admin_client(lead)

    created = admin.post(BOT_ADD, {"name": "phone-farm-07", "_save": "Save"})

    token = shown_token(created, "bot-token")
    assert_shown_once_and_never_cached(created, token)
    bot = Bot.objects.get(name="phone-farm-07")
    # The bot works with it, and errs with it, over the API.
    api = bot_client(bot, token)
    assert api.post(CLAIM, {}, format="json").status_code == 204
    assert api.get(phase_url(987654)).status_code == 404
    assert api.post(phase_url(987654, "complete"), {}, format="json").status_code == 400
    pages = [
        admin.get(changelist(Bot)),
        admin.get(changelist(Bot), {"q": bot.token_prefix}),
        admin.get(reverse("admin:warmup_bot_change", args=[bot.pk])),
        admin.get(reverse("admin:warmup_bot_history", args=[bot.pk])),
        admin.get(reverse("admin:index")),  # its "recent actions"
    ]
    for page in pages:
        assert page.status_code == 200
        assert token not in page.content.decode()
    assert bot.name in pages[0].content.decode()
    assert token not in admin_history_text()
    assert token not in logged()
    assert bot.token_prefix in logged()  # the log was written to, and names the bot's prefix


@pytest.mark.parametrize("command", ["create_bot", "rotate_bot_token"])
def test_a_bot_token_printed_by_a_command_is_printed_once_and_never_logged(
    command, logged_with_sql, capsys
):
    logged = logged_with_sql
    if command == "rotate_bot_token":
        BotFactory(name="phone-farm-08")

    call_command(command, "phone-farm-08")

    out = capsys.readouterr()
    token = out.out.strip().splitlines()[-1]
    assert token.startswith("wb_")
    assert (out.out + out.err).count(token) == 1
    assert token not in logged()
    assert Bot.objects.get(name="phone-farm-08").token_prefix in logged()


# --- Reviewers' review API tokens ---------------------------------------------------------


def test_a_reviewers_api_token_printed_by_its_command_is_printed_once_and_never_logged(
    logged_with_sql, capsys
):
    logged = logged_with_sql
    reviewer = UserFactory(reviewer=True)

    call_command("create_api_token", reviewer.username)
    out = capsys.readouterr()
    key = out.out.strip().splitlines()[-1]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(REVIEWS).status_code == 200

    assert key.startswith("wr_")
    assert (out.out + out.err).count(key) == 1
    assert key not in logged()
    assert reviewer.api_token.token_prefix in logged()  # the SQL looked the token up by it


def test_a_reviewers_api_token_is_on_its_creation_page_only(logged_with_sql):
    logged = logged_with_sql
    reviewer = UserFactory(reviewer=True)
    admin = admin_client(reviewer)

    created = admin.post(TOKEN_ADD, {"_save": "Save"})

    key = shown_token(created, "api-token")
    assert_shown_once_and_never_cached(created, key)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(REVIEWS).status_code == 200
    assert api.get(review_url(987654)).status_code == 404
    assert api.post(review_url(987654, "comment"), {}, format="json").status_code == 400
    revoke = reverse("admin:reviews_apitoken_delete", args=[reviewer.api_token.pk])
    pages = [
        admin.get(TOKENS),
        admin.get(reverse("admin:index")),
        admin.get(revoke),
    ]
    for page in pages:
        assert page.status_code == 200
        assert key not in page.content.decode()
    # Revoking it tells what was revoked without the key, here and in the admin's history.
    revoked = admin.post(revoke, {"post": "yes"}, follow=True)
    assert api.get(REVIEWS).status_code == 401
    assert key not in revoked.content.decode()
    assert all(key not in morsel.value for morsel in revoked.cookies.values())
    assert key not in admin_history_text()
    assert "API token of" in admin_history_text()
    assert key not in logged()


def test_a_token_page_for_someone_else_shows_neither_their_key_nor_a_way_to_it(db):
    """A superuser sees every token's owner, never a key."""
    owner = UserFactory(reviewer=True)
    key = shown_token(admin_client(owner).post(TOKEN_ADD, {"_save": "Save"}), "api-token")
    token = owner.api_token
    root = admin_client(UserFactory(is_superuser=True))

    listing = root.get(TOKENS)
    page = root.get(reverse("admin:reviews_apitoken_change", args=[token.pk]), follow=True)
    history = root.get(reverse("admin:reviews_apitoken_history", args=[token.pk]), follow=True)

    assert owner.username in listing.content.decode()
    for response in (listing, page, history):
        assert response.status_code == 200
        assert key not in response.content.decode()


# --- Requests that carry a secret are logged without it ---------------------------------------


def test_a_request_that_fails_on_the_server_is_logged_without_its_authorization(
    logged, monkeypatch
):
    bot = BotFactory()
    reviewer = UserFactory(reviewer=True)
    api = APIClient(raise_request_exception=False)
    created = admin_client(reviewer).post(TOKEN_ADD, {"_save": "Save"})
    key = shown_token(created, "api-token")

    def explode(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("warmup.api.views.phase_claim", explode)
    monkeypatch.setattr("reviews.api.views.analytics.review_stats", explode)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bot.token}")
    assert api.post(CLAIM, {}, format="json").status_code == 500
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(STATS).status_code == 500

    text = logged()
    assert text.count("the database went away") >= 2  # both tracebacks are in the log
    assert bot.token not in text
    assert key not in text
    assert "HTTP_AUTHORIZATION" not in text and "Bearer " not in text
