"""The review queue's filters are one FilterSet (warmup.selectors.filters): the review API's query,
the admin's list filters and resolve_reviews' selection flags take the same names and values and
select the same items, in queue order; a value one refuses, the others refuse too (the API with
a 400, the admin by filtering nothing, the command with exit code 2)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache.backends import locmem
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from reviews.management.commands.resolve_reviews import EMPTY_SELECTION
from reviews.management.commands.resolve_reviews import Command as ResolveReviews
from reviews.models import ReviewItem
from tests.builders import fail, reload
from tests.clients import REVIEWS, changelist, user_client
from tests.factories import (
    AccountFactory,
    BotFactory,
    UserFactory,
    WarmupPhaseFactory,
    new_item_in_review,
)
from warmup.domain.actors import Actor
from warmup.models import PhaseStatus
from warmup.selectors.filters import (
    INCIDENT_CHOICES_SECONDS,
    ReviewQueueFilter,
    incident_choices,
)
from warmup.services.accounts import account_pause
from warmup.services.bot_work import phase_claim, phase_complete, phase_fail
from warmup.services.review import review_assign, review_hold
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db

QUEUE = changelist(ReviewItem)
ALL_ITEMS = ["avatar", "login", "proxy", "held", "paused", "fresh"]


def to_review(account, bot, category):
    """The account's first phase, claimed by `bot` and failed into review (the bot says a
    person must look, so a retryable category goes to review too)."""
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    fail(phase, bot, category, retryable=False)
    return phase


@pytest.fixture
def queue(content_pool, reviewer, clock):
    """Items in review that differ from each other in what each filter reads."""
    alpha, beta = BotFactory(name="alpha"), BotFactory(name="beta")
    sam = UserFactory(username="sam", reviewer=True)
    lead = Actor.for_user(reviewer)
    # An avatar (an account's second phase) in review for over an hour: escalation level 1.
    AccountFactory(platform="x")
    tick()
    bio = phase_claim(bot=alpha)
    phase_complete(phase_id=bio.pk, bot=alpha, lease_token=bio.lease_token)
    clock.shift(timedelta(hours=6, seconds=1))
    tick()
    avatar = phase_claim(bot=alpha)
    assert avatar.phase_type == "avatar"
    phase_fail(
        phase_id=avatar.pk,
        bot=alpha,
        lease_token=avatar.lease_token,
        category="content_rejected",
        reason="avatar rejected",
    )
    clock.shift(timedelta(hours=1, minutes=1))
    tick()
    items = {"avatar": reload(avatar)}
    # Four first steps, an hour younger: each another category, platform, bot or assignee.
    items["login"] = to_review(AccountFactory(platform="instagram"), alpha, "login_failed")
    review_assign(phase_id=items["login"].pk, assignee=reviewer, actor=lead)
    items["proxy"] = to_review(AccountFactory(platform="tiktok"), beta, "proxy_error")
    review_assign(phase_id=items["proxy"].pk, assignee=sam, actor=lead)
    held = WarmupPhaseFactory(
        account=AccountFactory(platform="youtube"), bot=alpha, content_assigned=True
    )
    items["held"] = review_hold(phase_id=held.pk, note="looks odd", actor=lead)
    paused = AccountFactory(platform="facebook")
    items["paused"] = to_review(paused, beta, "challenge_required")
    account_pause(account=paused, actor=lead, note="resting")
    # And one that has waited only a minute.
    clock.shift(timedelta(minutes=10))
    items["fresh"] = to_review(AccountFactory(platform="instagram"), alpha, "network_error")
    items = {name: reload(item) for name, item in items.items()}
    assert all(item.status == PhaseStatus.REVIEW_REQUIRED for item in items.values())
    assert items["avatar"].escalation_level == 1
    clock.shift(timedelta(minutes=1))
    return items


# --- The three ways in -------------------------------------------------------------------------


def through_api(reviewer, query: dict) -> list[int]:
    response = user_client(reviewer).get(REVIEWS, {**query, "page_size": 200})
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def through_admin(reviewer, query: dict) -> list[int]:
    client = Client()
    client.force_login(reviewer)
    response = client.get(QUEUE, query)
    assert response.status_code == 200, response.get("Location")
    return list(response.context["cl"].queryset.values_list("pk", flat=True))


def flags(query: dict) -> list[str]:
    """The command's flags for a query: --name-with-dashes VALUE, repeated for several."""
    argv = []
    for name, value in query.items():
        for one in value if isinstance(value, list) else [value]:
            argv += ["--" + name.replace("_", "-"), str(one)]
    return argv or ["--all"]


def through_command(reviewer, query: dict) -> list[int]:
    """The items a resolve_reviews run would resolve (its selection, in queue order)."""
    command = ResolveReviews(stdout=StringIO(), stderr=StringIO())
    argv = ["--user", reviewer.username, "--dry-run", "--action", "skip", *flags(query)]
    options = vars(command.create_parser("manage.py", "resolve_reviews").parse_args(argv))
    selected, _named_but_not_selected = command.select(options)
    return selected


def dry_run(reviewer, query: dict) -> tuple[int, str]:
    """Exit code and output of `resolve_reviews --dry-run` with the query's flags."""
    out = StringIO()
    argv = ["--user", reviewer.username, "--dry-run", "--action", "skip", "--reason", "other"]
    try:
        call_command("resolve_reviews", *argv, "--note", "x", *flags(query), stdout=out)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue()


# --- The same selection three ways -------------------------------------------------------------

IN_ALL_THREE = [
    ({}, ALL_ITEMS),
    ({"category": "login_failed"}, ["login"]),
    ({"category": "held"}, ["held"]),
    ({"category": "rate_limited"}, []),
    ({"escalation_level": "1"}, ["avatar"]),
    ({"escalation_level": "0"}, ["login", "proxy", "held", "paused", "fresh"]),
    ({"waiting": "1h"}, ["avatar"]),
    ({"waiting": "5m"}, ["avatar", "login", "proxy", "held", "paused"]),
    ({"waiting": "24h"}, []),
    ({"assignee": "me"}, ["login"]),
    ({"assignee": "none"}, ["avatar", "held", "paused", "fresh"]),
    ({"assignee": "sam"}, ["proxy"]),
    ({"phase_type": "avatar"}, ["avatar"]),
    ({"phase_type": "profile_bio"}, ["login", "proxy", "held", "paused", "fresh"]),
    ({"platform": "instagram"}, ["login", "fresh"]),
    ({"platform": "tiktok"}, ["proxy"]),
    ({"bot": "beta"}, ["proxy", "paused"]),
    ({"account_status": "paused"}, ["paused"]),
    ({"account_status": "active"}, ["avatar", "login", "proxy", "held", "fresh"]),
    # Several filters at once narrow by each.
    ({"platform": "instagram", "assignee": "none"}, ["fresh"]),
    ({"bot": "alpha", "escalation_level": "0"}, ["login", "fresh"]),
    ({"category": "challenge_required", "account_status": "paused", "waiting": "5m"}, ["paused"]),
    ({"category": "held", "platform": "youtube", "assignee": "none"}, ["held"]),
]


@pytest.mark.parametrize("query, expected", IN_ALL_THREE, ids=lambda v: str(v))
def test_the_api_the_admin_and_the_command_select_the_same_items(queue, reviewer, query, expected):
    want = [queue[name].pk for name in ALL_ITEMS if name in expected]
    by_api = through_api(reviewer, query)

    assert sorted(by_api) == sorted(want)
    assert through_admin(reviewer, query) == by_api
    assert through_command(reviewer, query) == by_api


# The admin lists one value per filter; these the API and the command take as well.
NOT_IN_THE_ADMIN = [
    ({"category": ["login_failed", "proxy_error"]}, ["login", "proxy"]),
    ({"category": ["held", "network_error"]}, ["held", "fresh"]),
    ({"account": "ACCOUNT_OF_PROXY"}, ["proxy"]),
    ({"ids": "IDS_OF_LOGIN_AND_AVATAR"}, ["avatar", "login"]),
    ({"ids": "IDS_OF_LOGIN_AND_AVATAR", "bot": "alpha", "waiting": "1h"}, ["avatar"]),
]


@pytest.mark.parametrize("query, expected", NOT_IN_THE_ADMIN, ids=lambda v: str(v))
def test_the_api_and_the_command_select_the_same_items_for_lists_and_accounts(
    queue, reviewer, query, expected
):
    words = {
        "ACCOUNT_OF_PROXY": f"tiktok:{queue['proxy'].account.username}",
        "IDS_OF_LOGIN_AND_AVATAR": f"{queue['login'].pk},{queue['avatar'].pk}",
    }
    query = {name: words.get(str(value), value) for name, value in query.items()}
    want = [queue[name].pk for name in ALL_ITEMS if name in expected]
    by_api = through_api(reviewer, query)

    assert sorted(by_api) == sorted(want)
    assert through_command(reviewer, query) == by_api


def test_a_dry_run_lists_what_the_filters_select(queue, reviewer):
    code, printed = dry_run(reviewer, {"bot": "beta"})

    assert code == 0
    listed = {int(line.split()[0]) for line in printed.splitlines() if line[:8].strip().isdigit()}
    assert listed == {queue["proxy"].pk, queue["paused"].pk}
    assert "would skip 2 items" in printed


def test_a_legacy_api_value_selects_what_its_new_words_select(queue, reviewer):
    """Older API clients: an assignee's or a bot's id, and `min_age` in seconds."""
    sam = queue["proxy"].review_assignee
    beta = queue["proxy"].bot

    assert through_api(reviewer, {"assignee": sam.pk}) == through_api(reviewer, {"assignee": "sam"})
    assert through_api(reviewer, {"bot": beta.pk}) == through_api(reviewer, {"bot": "beta"})
    assert through_api(reviewer, {"min_age": 3600}) == through_api(reviewer, {"waiting": "1h"})
    assert through_api(reviewer, {"min_age": 300}) == through_api(reviewer, {"waiting": "5m"})


# --- A value one refuses, all refuse -----------------------------------------------------------

REFUSED = [
    ("category", "gremlins"),
    ("escalation_level", "high"),
    ("escalation_level", "-1"),
    ("waiting", "soon"),
    ("waiting", "90"),
    ("waiting", "1.5h"),
    ("phase_type", "no_such_step"),
    ("platform", "myspace"),
    ("account_status", "gone"),
]


@pytest.mark.parametrize("name, value", REFUSED)
def test_a_value_the_filterset_refuses_is_refused_everywhere(queue, reviewer, name, value):
    # The API says which filter, with a 400.
    response = user_client(reviewer).get(REVIEWS, {name: value})
    assert response.status_code == 400
    reason = response.json()["errors"][name]
    # The admin filters nothing (no 500, no empty list from a typo).
    everything = through_admin(reviewer, {})
    assert through_admin(reviewer, {name: value}) == everything
    # The command stops before changing anything, with the API's reason: a usage error.
    code, said = dry_run(reviewer, {name: value})
    assert code == 2
    assert f"--{name.replace('_', '-')}: {' '.join(reason)}" in said


@pytest.mark.parametrize("name, value", [("account", "myspace:bob"), ("ids", "1,abc")])
def test_a_selection_the_filterset_refuses_is_refused_by_the_api_and_the_command(
    queue, reviewer, name, value
):
    response = user_client(reviewer).get(REVIEWS, {name: value})
    assert response.status_code == 400
    assert name in response.json()["errors"]
    code, _ = dry_run(reviewer, {name: value})
    assert code == 2


UNKNOWN_NAMES = [
    ("assignee", "nobody-here"),
    ("assignee", "' OR 1=1 --"),
    ("bot", "no-such-bot"),
    ("bot", "100%"),
    ("account", "x:nobody"),
]


@pytest.mark.parametrize("name, value", UNKNOWN_NAMES)
def test_a_name_nobody_has_matches_nothing_in_the_api_and_the_command(queue, reviewer, name, value):
    # A search for a bot, user or account that does not exist finds no items; not an error.
    response = user_client(reviewer).get(REVIEWS, {name: value})
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert through_api(reviewer, {}) != []
    code, said = dry_run(reviewer, {name: value})
    assert code == 0
    assert "Nothing selected" in said


# --- The admin's choices -----------------------------------------------------------------------


def test_the_admin_lists_each_filters_choices_from_its_small_table(queue, reviewer):
    client = Client()
    client.force_login(reviewer)
    response = client.get(QUEUE)

    specs = {spec.parameter_name: spec for spec in response.context["cl"].filter_specs}
    choices = {name: [value for value, _ in spec.lookup_choices] for name, spec in specs.items()}
    assert list(specs) == [
        "category",
        "signature",
        "escalation_level",
        "waiting",
        "assignee",
        "phase_type",
        "platform",
        "bot",
        "account_status",
    ]
    assert "held" in choices["category"]
    assert choices["escalation_level"] == ["0", "1", "2", "3"]
    assert choices["bot"] == ["alpha", "beta"]
    assert {"me", "none", "sam"} <= set(choices["assignee"])
    assert "avatar" in choices["phase_type"]
    # The open incidents, largest first, each with its size.
    sizes = Counter(
        ReviewItem.objects.filter(status="review_required").values_list(
            "review_signature", flat=True
        )
    )
    incidents = dict(specs["signature"].lookup_choices)
    assert set(incidents) == set(sizes)  # fewer than the ten listed
    listed_sizes = [sizes[key] for key in incidents]
    assert listed_sizes == sorted(listed_sizes, reverse=True)
    assert all(label.endswith(f"({sizes[key]})") for key, label in incidents.items())
    labels = dict(specs["escalation_level"].lookup_choices)
    assert labels["1"] == "Level 1: over 1 h"


def test_an_escalation_level_is_named_the_same_everywhere_it_is_shown(queue, reviewer):
    client = Client()
    client.force_login(reviewer)
    words = "Level 1: over 1 h"

    item_page = client.get(reverse("admin:reviews_reviewitem_change", args=[queue["avatar"].pk]))
    index = client.get(reverse("admin:index"))
    dashboard = client.get(reverse("reviews-dashboard"))
    report = StringIO()
    call_command("review_report", stdout=report)

    assert f"Now at {words}" in item_page.content.decode()
    assert f"{words}</a>" in index.content.decode()
    assert words in dashboard.content.decode()
    assert words in report.getvalue()


@pytest.mark.parametrize("name", list(ReviewQueueFilter.base_filters))
def test_an_empty_value_is_no_filter_but_the_command_wants_one(queue, reviewer, name):
    everything = through_api(reviewer, {})

    assert through_api(reviewer, {name: ""}) == everything
    if name in ReviewQueueFilter.listed():  # the admin's list filters
        assert through_admin(reviewer, {name: ""}) == everything
    if name != "min_age":  # the API's older word; the command has no flag for it
        code, said = dry_run(reviewer, {name: ""})
        assert (code, said) == (2, EMPTY_SELECTION.format(option=name.replace("_", "-")))


def test_the_sidebars_incidents_are_counted_once_for_a_few_seconds(
    bot, django_assert_num_queries, monkeypatch, settings
):
    """The queue's incident filter counts every item in review; one count serves the pages
    rendered in the next INCIDENT_CHOICES_SECONDS, then the next page counts again. (In
    each process's memory, whose clock the test moves; with REDIS_URL the suite's cache is
    Redis, whose clock it cannot.)"""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    first = new_item_in_review(bot)
    (signature, label), *_ = incident_choices()
    assert (signature, label.endswith("(1)")) == (first.review_signature_id, True)

    new_item_in_review(bot)  # the same failure again
    with django_assert_num_queries(0):
        assert incident_choices() == [(signature, label)]  # still the count it kept

    later = time.time() + INCIDENT_CHOICES_SECONDS + 1
    monkeypatch.setattr(locmem.time, "time", lambda: later)
    (again, label), *_ = incident_choices()
    assert (again, label.endswith("(2)")) == (signature, True)
