"""Who may do what: the whole access policy of the review API, the bot API (to users) and the
admin, as one table. Each row is one endpoint, admin action or page; each column what one kind
of user observes when they try it:

    READ    200, and nothing changed
    DONE    the change was made (API: 200; admin: the page or a redirect back to it)
    LOGIN   the admin sends them to its login page (302), nothing changed
    401/403 refused (JSON with the API's error codes; the admin's 403 page), nothing changed

The rows are checked against the URLconf and the admin's registered actions: an endpoint, an
admin page of our own or an action added without a row here fails `test_the_table_*`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from reviews.admin.queue import ACTIONS as ITEM_PAGE_ACTIONS
from reviews.models import ApiToken, ReviewItem, ReviewLog
from tests.clients import (
    HOLD,
    REVIEWS,
    STATS,
    account_url,
    change,
    changelist,
    phase_url,
    review_url,
    view_only_user,
)
from tests.factories import (
    AccountFactory,
    BotFactory,
    UserFactory,
    WarmupPhaseFactory,
    api_token_key,
)
from warmup.domain.actors import Actor
from warmup.models import Account, Bot, Breaker, WarmupPhase
from warmup.services.accounts import account_pause
from warmup.services.resolutions import reviews_resolve
from warmup.services.review import review_assign

pytestmark = pytest.mark.django_db

READ, DONE, LOGIN = "read", "done", "login"
WHO = ("anonymous", "staff", "viewer", "reviewer", "lead", "superuser")

NOTE = {"note": "checked by hand"}
RESOLUTION = {"reason_code": "solved_challenge", **NOTE}
RECATEGORISE = {"category": "login_failed", **NOTE}


# --- The policy -------------------------------------------------------------------------------
# Columns: anonymous, staff (no permission), viewer (may read the queue), reviewer, lead, superuser.

SINCE = "since=2026-12-06T10%3A00%3A00%2B00%3A00"  # a poll's: when its page was drawn

REVIEW_API = {
    "review-api:queue GET": (401, 403, READ, READ, READ, READ),
    "review-api:item GET": (401, 403, READ, READ, READ, READ),
    "review-api:stats GET": (401, 403, READ, READ, READ, READ),
    "review-api:resolve POST": (401, 403, 403, DONE, DONE, DONE),
    "review-api:assign POST": (401, 403, 403, DONE, DONE, DONE),
    "review-api:assign-other POST": (401, 403, 403, 403, DONE, DONE),  # to anyone: a lead's
    "review-api:comment POST": (401, 403, 403, DONE, DONE, DONE),
    "review-api:recategorize POST": (401, 403, 403, DONE, DONE, DONE),
    "review-api:hold POST": (401, 403, 403, DONE, DONE, DONE),
    "review-api:incidents GET": (401, 403, READ, READ, READ, READ),
    "review-api:incident-resolve POST": (401, 403, 403, DONE, DONE, DONE),
    "review-api:account-pause POST": (401, 403, 403, 403, DONE, DONE),
    "review-api:account-reactivate POST": (401, 403, 403, 403, DONE, DONE),
}
# The bot API takes bot tokens only: no user, however privileged, gets in with a session.
BOT_API = {
    "bot-api:claim POST": (401, 401, 401, 401, 401, 401),
    "bot-api:phase GET": (401, 401, 401, 401, 401, 401),
    "bot-api:heartbeat POST": (401, 401, 401, 401, 401, 401),
    "bot-api:complete POST": (401, 401, 401, 401, 401, 401),
    "bot-api:fail POST": (401, 401, 401, 401, 401, 401),
    "bot-api:account GET": (401, 401, 401, 401, 401, 401),
}
ADMIN_PAGES = {
    "page:queue": (LOGIN, 403, READ, READ, READ, READ),
    "page:item": (LOGIN, 403, READ, READ, READ, READ),
    "page:log": (LOGIN, 403, 403, READ, READ, READ),
    "page:log entry": (LOGIN, 403, 403, READ, READ, READ),
    "page:dashboard": (LOGIN, 403, READ, READ, READ, READ),
    "page:dashboard csv": (LOGIN, 403, READ, READ, READ, READ),
    "page:queue csv": (LOGIN, 403, READ, READ, READ, READ),
    "page:accounts": (LOGIN, 403, 403, READ, READ, READ),
    "page:account": (LOGIN, 403, 403, READ, READ, READ),
    "page:phases": (LOGIN, 403, 403, READ, READ, READ),
    "page:bots": (LOGIN, 403, 403, 403, READ, READ),
    "page:tokens": (LOGIN, 403, 403, READ, READ, READ),
    "page:incidents": (LOGIN, 403, READ, READ, READ, READ),
    "page:incident resolve": (LOGIN, 403, 403, READ, READ, READ),
    "page:incident batch": (LOGIN, 403, READ, READ, READ, READ),
    # The live pages' polls (reviews/admin/live.py): whoever may read the page.
    "page:queue live": (LOGIN, 403, READ, READ, READ, READ),
    "page:incidents live": (LOGIN, 403, READ, READ, READ, READ),
    "page:dashboard live": (LOGIN, 403, READ, READ, READ, READ),
}
# Bulk actions of the changelists ("app.model:action") and the item page's buttons.
ADMIN_ACTIONS = {
    "reviews.reviewitem:assign_to_me": (LOGIN, 403, 403, DONE, DONE, DONE),
    "reviews.reviewitem:assign_to": (LOGIN, 403, 403, 403, DONE, DONE),  # to anyone: a lead's
    "reviews.reviewitem:unassign": (LOGIN, 403, 403, DONE, DONE, DONE),
    "reviews.reviewitem:recategorize": (LOGIN, 403, 403, DONE, DONE, DONE),
    "reviews.reviewitem:resume": (LOGIN, 403, 403, DONE, DONE, DONE),
    "reviews.reviewitem:retry": (LOGIN, 403, 403, DONE, DONE, DONE),
    "reviews.reviewitem:complete": (LOGIN, 403, 403, DONE, DONE, DONE),
    "reviews.reviewitem:skip": (LOGIN, 403, 403, DONE, DONE, DONE),
    "item page:assign_to_me": (LOGIN, 403, 403, DONE, DONE, DONE),
    "item page:assign_to": (LOGIN, 403, 403, 403, DONE, DONE),
    "item page:unassign": (LOGIN, 403, 403, DONE, DONE, DONE),
    "item page:recategorize": (LOGIN, 403, 403, DONE, DONE, DONE),
    "item page:comment": (LOGIN, 403, 403, DONE, DONE, DONE),
    "item page:resume": (LOGIN, 403, 403, DONE, DONE, DONE),
    "item page:retry": (LOGIN, 403, 403, DONE, DONE, DONE),
    "item page:complete": (LOGIN, 403, 403, DONE, DONE, DONE),
    "item page:skip": (LOGIN, 403, 403, DONE, DONE, DONE),
    "warmup.account:pause_accounts": (LOGIN, 403, 403, 403, DONE, DONE),
    "warmup.account:reactivate_accounts": (LOGIN, 403, 403, 403, DONE, DONE),
    "warmup.account:hold_accounts": (LOGIN, 403, 403, DONE, DONE, DONE),
    "warmup.bot:deactivate": (LOGIN, 403, 403, 403, DONE, DONE),
    # django-axes' list of failed logins (the admin login lockout).
    "axes.accessattempt:cleanup_expired_attempts": (LOGIN, 403, 403, 403, 403, DONE),
    # Add pages that create through a service (the bot's token page; the reviewer's own token).
    "add:bot": (LOGIN, 403, 403, 403, DONE, DONE),
    "add:token": (LOGIN, 403, 403, DONE, DONE, DONE),
    "add:account": (LOGIN, 403, 403, 403, 403, DONE),
    # An incident's items resolved at once, and a batch undone, from the incidents page.
    "incident:resolve": (LOGIN, 403, 403, DONE, DONE, DONE),
    "incident:undo": (LOGIN, 403, 403, DONE, DONE, DONE),
    "incident:close breaker": (LOGIN, 403, 403, 403, DONE, DONE),
}
POLICY = {**REVIEW_API, **BOT_API, **ADMIN_PAGES, **ADMIN_ACTIONS}


# --- The world each attempt is made in ----------------------------------------------------------


@pytest.fixture
def world(content_pool):
    """An item in review (assigned to another reviewer, so assigning and unassigning both
    change it), an active phase to hold, an active and a paused account, an active bot."""
    bot = BotFactory()
    other = UserFactory(reviewer=True)
    item = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    review_assign(phase_id=item.pk, assignee=other, actor=Actor.for_user(other))
    colleague = UserFactory(reviewer=True)  # whom a lead may hand the item to
    # A resolution to undo (made before the phase waiting for a bot, which a claim would take).
    undoable = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    resolved = reviews_resolve(
        phase_ids=[undoable.pk], method="skip", actor=Actor.system(), **RESOLUTION
    )
    waiting = WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    active = AccountFactory()
    paused = AccountFactory()
    account_pause(account=paused, actor=Actor.system(), note="paused for the test")
    log = ReviewLog.objects.order_by("pk").first()
    # A breaker open on the item's failure (made as it stands; the opening is not what is tried).
    breaker = Breaker.objects.create(
        signature_id=item.review_signature_id,
        phase_type=item.phase_type,
        opened_at=timezone.now(),
        cooldown_until=timezone.now() + timedelta(minutes=15),
        phase=item,
        failures=6,
        attempts=6,
    )
    failed_login = AccessAttempt.objects.create(
        username="someone", ip_address="192.0.2.1", failures_since_start=1
    )
    return {
        "failed_login": failed_login,
        "bot": bot,
        "item": item,
        "colleague": colleague,
        "waiting": waiting,
        "active": active,
        "paused": paused,
        "log": log,
        "batch": resolved.batch,
        "breaker": breaker,
    }


def fingerprint() -> tuple:
    """Everything an action here could change."""
    return (
        list(
            WarmupPhase.objects.order_by("pk").values_list(
                "pk", "status", "review_assignee_id", "last_failure_category", "content_id"
            )
        ),
        list(Account.objects.order_by("pk").values_list("pk", "status")),
        list(Bot.objects.order_by("pk").values_list("pk", "is_active")),
        ReviewLog.objects.count(),
        ApiToken.objects.count(),
        AccessAttempt.objects.count(),
        Breaker.objects.filter(closed_at__isnull=True).count(),
    )


def user_for(who: str):
    return {
        "anonymous": lambda: None,
        "staff": lambda: UserFactory(),
        "viewer": view_only_user,
        "reviewer": lambda: UserFactory(reviewer=True),
        "lead": lambda: UserFactory(lead=True),
        "superuser": lambda: UserFactory(is_superuser=True),
    }[who]()


# --- How each row is tried ----------------------------------------------------------------------


def _bulk(model, name: str, select: str, data: dict | None = None) -> Callable:
    def attempt(client, w, user):
        payload = {
            "action": name,
            ACTION_CHECKBOX_NAME: [w[select].pk],
            "confirm": "1",
            **(data or {}),
        }
        return client.post(changelist(model), payload)

    return attempt


def _a_day_later(attempt: Callable) -> Callable:
    """Run `attempt` a day on, when the world's failed login is past its cool-off (expired). It
    cannot be made expired beforehand: every login clears the expired ones."""

    def later(client, w, user):
        with time_machine.travel(timezone.now() + timedelta(days=1)):
            return attempt(client, w, user)

    return later


def _item_page(name: str, data: dict | None = None) -> Callable:
    def attempt(client, w, user):
        url = reverse("admin:reviews_reviewitem_act", args=[w["item"].pk, name])
        return client.post(url, data or {})

    return attempt


def _get(url: Callable) -> Callable:
    return lambda client, w, user: client.get(url(w))


def _post(url: Callable, body: Callable) -> Callable:
    return lambda client, w, user: client.post(url(w), body(w), format="json")


ITEM_DATA = {
    "assign_to_me": None,
    "unassign": None,
    "recategorize": RECATEGORISE,
    "comment": NOTE,
    "resume": RESOLUTION,
    "retry": RESOLUTION,
    "complete": RESOLUTION,
    "skip": RESOLUTION,
}
ATTEMPTS: dict[str, Callable] = {
    "review-api:queue GET": _get(lambda w: REVIEWS),
    "review-api:item GET": _get(lambda w: review_url(w["item"].pk)),
    "review-api:stats GET": _get(lambda w: STATS),
    "review-api:resolve POST": _post(
        lambda w: review_url(w["item"].pk, "resolve"), lambda w: {"action": "skip", **RESOLUTION}
    ),
    "review-api:assign POST": _post(lambda w: review_url(w["item"].pk, "assign"), lambda w: {}),
    "review-api:assign-other POST": _post(
        lambda w: review_url(w["item"].pk, "assign"), lambda w: {"user": w["colleague"].pk}
    ),
    "review-api:comment POST": _post(lambda w: review_url(w["item"].pk, "comment"), lambda w: NOTE),
    "review-api:recategorize POST": _post(
        lambda w: review_url(w["item"].pk, "recategorize"), lambda w: RECATEGORISE
    ),
    "review-api:hold POST": _post(lambda w: HOLD, lambda w: {"phase": w["waiting"].pk, **NOTE}),
    "review-api:incidents GET": _get(lambda w: f"{REVIEWS}incidents/"),
    "review-api:incident-resolve POST": _post(
        lambda w: f"{REVIEWS}incidents/{w['item'].review_signature_id}/resolve/",
        lambda w: {"action": "skip", **RESOLUTION},
    ),
    "review-api:account-pause POST": _post(
        lambda w: f"{REVIEWS}accounts/{w['active'].pk}/pause/", lambda w: NOTE
    ),
    "review-api:account-reactivate POST": _post(
        lambda w: f"{REVIEWS}accounts/{w['paused'].pk}/reactivate/", lambda w: NOTE
    ),
    "bot-api:claim POST": _post(lambda w: phase_url("claim"), lambda w: {}),
    "bot-api:phase GET": _get(lambda w: phase_url(w["item"].pk)),
    "bot-api:heartbeat POST": _post(
        lambda w: phase_url(w["item"].pk, "heartbeat"), lambda w: {"lease_token": "x"}
    ),
    "bot-api:complete POST": _post(
        lambda w: phase_url(w["item"].pk, "complete"), lambda w: {"lease_token": "x"}
    ),
    "bot-api:fail POST": _post(
        lambda w: phase_url(w["item"].pk, "fail"),
        lambda w: {"lease_token": "x", "category": "unknown", "reason": "r"},
    ),
    "bot-api:account GET": _get(lambda w: account_url(w["item"].account_id)),
    "page:queue": _get(lambda w: changelist(ReviewItem)),
    "page:item": _get(lambda w: reverse("admin:reviews_reviewitem_change", args=[w["item"].pk])),
    "page:log": _get(lambda w: changelist(ReviewLog)),
    "page:log entry": _get(lambda w: change(w["log"])),
    "page:dashboard": _get(lambda w: reverse("reviews-dashboard")),
    "page:dashboard csv": _get(lambda w: reverse("reviews-dashboard") + "?format=csv"),
    "page:queue csv": _get(lambda w: reverse("admin:reviews_reviewitem_csv")),
    "page:accounts": _get(lambda w: changelist(Account)),
    "page:account": _get(lambda w: change(w["active"])),
    "page:phases": _get(lambda w: changelist(WarmupPhase)),
    "page:bots": _get(lambda w: changelist(Bot)),
    "page:tokens": _get(lambda w: reverse("admin:reviews_apitoken_changelist")),
    "page:incidents": _get(lambda w: reverse("admin:reviews_incident_changelist")),
    "page:queue live": _get(
        lambda w: reverse("admin:reviews_reviewitem_live") + f"?shown={w['item'].pk}&{SINCE}"
    ),
    "page:incidents live": _get(lambda w: reverse("admin:reviews_incident_live") + f"?{SINCE}"),
    "page:dashboard live": _get(lambda w: reverse("reviews-dashboard-live")),
    "page:incident resolve": _get(
        lambda w: reverse("admin:reviews_incident_resolve", args=[w["item"].review_signature_id])
    ),
    "page:incident batch": _get(
        lambda w: reverse("admin:reviews_incident_batch", args=[w["batch"]])
    ),
    "incident:resolve": lambda client, w, user: client.post(
        reverse("admin:reviews_incident_resolve", args=[w["item"].review_signature_id]),
        {"method": "skip", **RESOLUTION},
    ),
    "incident:undo": lambda client, w, user: client.post(
        reverse("admin:reviews_incident_undo", args=[w["batch"]]), NOTE
    ),
    "incident:close breaker": lambda client, w, user: client.post(
        reverse("admin:reviews_incident_close_breaker", args=[w["breaker"].pk]), RESOLUTION
    ),
    **{
        f"reviews.reviewitem:{name}": _bulk(ReviewItem, name, "item", ITEM_DATA[name])
        for name in ("assign_to_me", "unassign", "recategorize", "resume", "retry", "complete")
    },
    "reviews.reviewitem:skip": _bulk(ReviewItem, "skip", "item", RESOLUTION),
    # A lead assigns to anyone who may resolve: here to themself (the others get no further).
    "reviews.reviewitem:assign_to": lambda client, w, user: _bulk(
        ReviewItem, "assign_to", "item", {"assignee": user.pk if user else ""}
    )(client, w, user),
    "item page:assign_to": lambda client, w, user: _item_page(
        "assign_to", {"assignee": user.pk if user else ""}
    )(client, w, user),
    **{f"item page:{name}": _item_page(name, data) for name, data in ITEM_DATA.items()},
    "warmup.account:pause_accounts": _bulk(Account, "pause_accounts", "active", NOTE),
    "warmup.account:reactivate_accounts": _bulk(Account, "reactivate_accounts", "paused", NOTE),
    "warmup.account:hold_accounts": _bulk(Account, "hold_accounts", "waiting_account", NOTE),
    "warmup.bot:deactivate": _bulk(Bot, "deactivate", "bot"),
    "axes.accessattempt:cleanup_expired_attempts": _a_day_later(
        _bulk(AccessAttempt, "cleanup_expired_attempts", "failed_login")
    ),
    "add:bot": lambda client, w, user: client.post(
        reverse("admin:warmup_bot_add"), {"name": "new-bot", "_save": "Save"}
    ),
    "add:token": lambda client, w, user: client.post(
        reverse("admin:reviews_apitoken_add"), {"user": user.pk if user else "", "_save": "1"}
    ),
    "add:account": lambda client, w, user: client.post(
        reverse("admin:warmup_account_add"),
        {
            "platform": "instagram",
            "username": "brand.new",
            "plan": w["item"].account.plan_id,
            "_save": "Save",
        },
    ),
}


def client_for(what: str, user):
    if what.startswith(("review-api:", "bot-api:")):
        client = APIClient()
    else:
        client = Client()
    if user is not None:
        client.force_login(user)
    return client


CASES = [
    pytest.param(who, what, row[i]) for what, row in POLICY.items() for i, who in enumerate(WHO)
]


@pytest.mark.parametrize(("who", "what", "expected"), CASES)
def test_access_policy(who, what, expected, world):
    user = user_for(who)
    world["waiting_account"] = world["waiting"].account
    client = client_for(what, user)
    before = fingerprint()

    response = ATTEMPTS[what](client, world, user)

    after = fingerprint()
    status = response.status_code
    if expected == READ:
        assert status == 200, (status, response.content[:300])
        assert after == before
    elif expected == DONE:
        assert status in (200, 302), (status, response.content[:300])
        assert after != before, "the action was accepted but changed nothing"
    elif expected == LOGIN:
        assert status == 302 and response["Location"].startswith(reverse("admin:login"))
        assert after == before
    else:
        assert status == expected, (status, response.content[:300])
        assert after == before, "refused, yet something changed"
        if what.startswith(("review-api:", "bot-api:")):
            code = {401: "not_authenticated", 403: "permission_denied"}[expected]
            assert response.json()["code"] == code


# --- A reviewer the console no longer lets in keeps no API access ------------------------------
# The review API asks what the console asks (an active staff user in a reviewing role), whatever
# the credential: a lead who is no longer staff gets 403 with their old token (or a session),
# a deactivated one 401 (the token no longer authenticates anyone).

FORMER = {
    "no longer staff": ({"is_staff": False}, 403, "permission_denied"),
    "deactivated": ({"is_active": False}, 401, "authentication_failed"),
}
FORMER_CASES = [
    pytest.param(what, state, id=f"{state}-{what}") for what in REVIEW_API for state in FORMER
]


@pytest.mark.parametrize(("what", "state"), FORMER_CASES)
def test_a_reviewer_the_console_no_longer_admits_keeps_no_api_access(what, state, world):
    changes, status, code = FORMER[state]
    user = UserFactory(lead=True)
    key = api_token_key(user)
    type(user).objects.filter(pk=user.pk).update(**changes)
    user.refresh_from_db()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    world["waiting_account"] = world["waiting"].account
    before = fingerprint()

    response = ATTEMPTS[what](client, world, user)

    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response.json()["code"] == code
    assert fingerprint() == before, "refused, yet something changed"


@pytest.mark.parametrize("what", ["review-api:queue GET", "review-api:resolve POST"])
def test_a_session_of_a_user_no_longer_staff_gets_403_on_the_review_api(what, world):
    user = UserFactory(lead=True)
    client = client_for(what, user)
    type(user).objects.filter(pk=user.pk).update(is_staff=False)
    world["waiting_account"] = world["waiting"].account
    before = fingerprint()

    response = ATTEMPTS[what](client, world, user)

    assert response.status_code == 403, (response.status_code, response.content[:300])
    assert response.json()["code"] == "permission_denied"
    assert fingerprint() == before


# --- The table covers everything there is ----------------------------------------------------


def _walk(patterns, prefix: str = ""):
    """(namespace-qualified name, pattern) of every named URL, includes followed."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            space = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from _walk(pattern.url_patterns, space)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{prefix}{pattern.name}", pattern


def api_operations() -> set[str]:
    """ "namespace:name METHOD" of every operation of both APIs."""
    found = set()
    for name, pattern in _walk(get_resolver().url_patterns):
        if not name.startswith(("review-api:", "bot-api:")):
            continue
        view = pattern.callback.view_class
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                found.add(f"{name} {method.upper()}")
    return found


STANDARD_ADMIN_VIEWS = ("changelist", "add", "change", "delete", "history")


def custom_admin_urls() -> set[str]:
    """The admin's URLs that are ours, not Django's own per-model or site views."""
    standard = {
        f"admin:{m._meta.app_label}_{m._meta.model_name}_{view}"
        for m in admin.site._registry
        for view in STANDARD_ADMIN_VIEWS
    }
    site = {f"admin:{name}" for name in ("index", "login", "logout", "password_change")}
    site |= {"admin:password_change_done", "admin:jsi18n", "admin:app_list"}
    site |= {"admin:autocomplete", "admin:view_on_site"}
    site.add("admin:auth_user_password_change")  # Django's UserAdmin's own page
    names = set()
    for name, pattern in _walk(get_resolver().url_patterns):
        in_admin = name.startswith("admin:") or str(pattern.pattern).startswith("admin/")
        if in_admin and name not in standard | site:
            names.add(name)
    return names


def admin_actions() -> set[str]:
    found = set()
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.actions or ():
            name = getattr(action, "__name__", action)
            found.add(f"{model._meta.app_label}.{model._meta.model_name}:{name}")
    return found


def test_the_table_has_a_row_for_every_api_operation():
    # Assigning to someone else is the assign operation with another rule: a row of its own.
    assert api_operations() == set(REVIEW_API) - {"review-api:assign-other POST"} | set(BOT_API)


def test_the_table_has_a_row_for_every_admin_action_and_item_page_button():
    table = {
        key for key in ADMIN_ACTIONS if not key.startswith(("item page:", "add:", "incident:"))
    }
    assert admin_actions() == table
    assert {f"item page:{name}" for name in ITEM_PAGE_ACTIONS} == {
        key for key in ADMIN_ACTIONS if key.startswith("item page:")
    }


def test_the_table_covers_every_admin_page_of_our_own():
    # The item page's buttons post to `act`; the dashboard and its CSV are one view.
    assert custom_admin_urls() == {
        "admin:reviews_reviewitem_act",
        "reviews-dashboard",
        "admin:reviews_incident_resolve",
        "admin:reviews_incident_batch",
        "admin:reviews_incident_undo",
        "admin:reviews_incident_close_breaker",
        "admin:reviews_reviewitem_live",
        "admin:reviews_reviewitem_csv",
        "admin:reviews_incident_live",
        "reviews-dashboard-live",
    }


def test_every_row_is_tried():
    assert set(ATTEMPTS) == set(POLICY)
