"""Lookups in the address of every list of the admin (issue #20): a list filters by what its
filters offer and nothing else. Any other lookup (`?note__regex=(`, `?created_at__year=99999`,
`?time_in_review__gt=abc`), and a value a filter of its own cannot take, is Django's answer to
wacky lookups: the redirect to `?e=1`, never a 500. The property-based test throws generated
lookups and values at every list registered on the site."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviews.models import ReviewItem, ReviewLog
from tests.browser import log_in, shot, with_password
from tests.clients import changelist
from tests.factories import AccountFactory, BotFactory, UserFactory, WarmupPhaseFactory
from warmup.models import Account, Bot, WarmupPhase

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(content_pool):
    """A superuser (who sees every list and every filter), with rows in each list: SQLite
    checks a regular expression only against a row."""
    bot = BotFactory()
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    WarmupPhaseFactory(
        account=AccountFactory(platform="tiktok"), bot=bot, in_review=True, category="login_failed"
    )
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, completed=True)
    client = Client(raise_request_exception=False)  # a 500 is an answer to assert on
    client.force_login(UserFactory(is_superuser=True))
    return client


def assert_listed_or_refused(response, query: str) -> None:
    """The list (200), Django's redirect to `?e=1`, or the 400 for a NUL character; never a
    500."""
    status = response.status_code
    if status == 302:
        assert response["Location"].endswith("?e=1"), (response["Location"], query[:300])
    elif status == 400:
        assert "%00" in query, query[:300]
    else:
        assert status == 200, (status, query[:300])


# What the attacker-style run sent (31 requests gave 500).
REPORTED = [
    (ReviewLog, "note__regex=("),
    (ReviewLog, "created_at__year=99999"),
    (ReviewLog, "created_at__year=-1"),
    (ReviewLog, "time_in_review__gt=abc"),
    (ReviewLog, "time_in_review__gt=999999999999+days"),
    (ReviewLog, "time_in_review__lt=-999999999999"),
    (ReviewItem, "last_failure_reason__regex=("),
    (ReviewItem, "review_required_since__year=99999"),
    (ReviewItem, "created_at__year=-1"),
    (WarmupPhase, "last_failure_reason__iregex=[a"),
    (WarmupPhase, "next_attempt_at__year=99999"),
    (WarmupPhase, "delay__gt=999999999999+days"),
    (Account, "username__regex=("),
    (Account, "created_at__year=99999"),
    (Account, "created_at__year=-1"),
    (Account, "created_at__month=13&created_at__year=2024"),
    (Bot, "name__regex=*"),
    (Bot, "created_at__year=99999"),
    (Bot, "last_seen_at__gt=abc"),
]


@pytest.mark.parametrize(
    "model, query", REPORTED, ids=[f"{m._meta.model_name}-{q}" for m, q in REPORTED]
)
def test_a_lookup_the_list_does_not_offer_is_the_redirect_to_e1(admin_client, model, query):
    url = changelist(model)

    response = admin_client.get(f"{url}?{query}")

    assert response.status_code == 302, (response.status_code, query)
    assert response["Location"] == f"{url}?e=1"
    # And the list that follows is there.
    assert admin_client.get(response["Location"]).status_code == 200


OWN_FILTER_VALUES = [
    (ReviewLog, "created_at__gte=0001-01-01"),
    (ReviewLog, "created_at__lt=9999-12-31+23:59:59.999999"),
    (ReviewLog, "created_at__gte=99999-01-01"),
    (ReviewLog, "created_at__lt=-1"),
    (ReviewLog, "created_at__isnull=maybe"),
    (Account, "created_at__year=9999&created_at__month=12&created_at__day=31"),
    (Account, "created_at__year=0"),
    (Account, "plan__id__exact=99999999999999999999"),
    (Account, "plan__id__exact=1.5"),
    (Bot, "is_active__exact=2"),
    (WarmupPhase, "last_failure_category__exact=%s" % ("x" * 5000)),
]


@pytest.mark.parametrize(
    "model, query",
    OWN_FILTER_VALUES,
    ids=[f"{m._meta.model_name}-{q[:40]}" for m, q in OWN_FILTER_VALUES],
)
def test_a_value_its_own_filter_cannot_take_is_the_list_or_the_redirect(admin_client, model, query):
    """Dates at the ends of what Python and the database hold, numbers past a column's range,
    words where a yes or no goes: the list, or the redirect to `?e=1`; never a 500."""
    response = admin_client.get(f"{changelist(model)}?{query}")

    assert_listed_or_refused(response, query)


def test_the_filters_the_list_offers_still_filter(admin_client):
    action = ReviewLog.objects.order_by("pk").first().action
    for query in ({"action__exact": action}, {"action": action}):
        response = admin_client.get(changelist(ReviewLog), query)
        assert response.status_code == 200
        listed = response.context["cl"].result_list
        assert listed and {log.action for log in listed} == {action}

    dated = admin_client.get(changelist(Account), {"created_at__year": "2026"})
    assert dated.status_code == 200

    phases = admin_client.get(changelist(WarmupPhase), {"status__exact": "review_required"})
    assert phases.status_code == 200
    assert phases.context["cl"].result_count == 2


# --- Property-based: every list on the site -------------------------------------------------

LISTS = sorted(admin.site._registry, key=lambda model: model._meta.label)

SUFFIXES = [
    "",
    "__exact",
    "__iexact",
    "__regex",
    "__iregex",
    "__contains",
    "__in",
    "__gt",
    "__gte",
    "__lt",
    "__lte",
    "__range",
    "__isnull",
    "__year",
    "__month",
    "__day",
    "__week_day",
    "__hour",
    "__date",
    "__startswith",
    "__id__exact",
    "__pk",
    "__len",
    "__has_key",
]
VALUES = [
    "(",
    "[a",
    "*",
    "abc",
    "",
    "-1",
    "0",
    "1.5",
    "99999",
    "-99999",
    "9" * 30,
    "999999999999 days",
    "-999999999999",
    "1e309",
    "2024-13-45",
    "99999-01-01",
    "0001-01-01",
    "9999-12-31 23:59:59",
    "P99999999D",
    "1,2",
    "a,b",
    "true",
    "null",
    "\u0663",
    "' OR 1=1 --",
]
values = (
    st.sampled_from(VALUES)
    | st.integers().map(str)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
)


def field_paths(model) -> list[str]:
    """The model's own fields and one hop into its relations (`account__username`)."""
    paths = []
    for field in model._meta.get_fields():
        paths.append(field.name)
        related = field.related_model if field.is_relation else None
        if related is not None and not field.many_to_many:
            paths += [f"{field.name}__{other.name}" for other in related._meta.concrete_fields]
    return paths


def offered(client, model) -> list[str]:
    """The parameters the list's own filters (and date hierarchy) read (none on a page of its
    own making, such as the incidents')."""
    response = client.get(changelist(model))
    assert response.status_code == 200, model
    cl = response.context.get("cl")
    if cl is None:
        return []
    names = [name for spec in cl.filter_specs for name in spec.expected_parameters()]
    if cl.date_hierarchy:
        names += [f"{cl.date_hierarchy}__{part}" for part in ("year", "month", "day")]
    return names


@pytest.mark.parametrize("model", LISTS, ids=lambda model: model._meta.label)
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_lookup_and_no_value_breaks_any_list_of_the_site(admin_client, model, data):
    lookups = st.builds(
        "".join, st.tuples(st.sampled_from(field_paths(model)), st.sampled_from(SUFFIXES))
    )
    names = lookups | st.sampled_from(offered(admin_client, model) or ["q"])
    pairs = data.draw(st.lists(st.tuples(names, values), min_size=1, max_size=4))
    query = urlencode(pairs)

    assert_listed_or_refused(admin_client.get(f"{changelist(model)}?{query}"), query)


# --- In a browser: what a person sees ---------------------------------------------------------


def test_in_a_browser_a_wrong_lookup_a_wrong_selection_and_too_deep_json_read_plainly(
    default_plan, page, content_pool
):
    bot = BotFactory()
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    log_in(page, with_password(UserFactory(is_superuser=True)))

    # A lookup the review log does not offer: its list, marked as Django marks wacky lookups.
    page.goto(f"{changelist(ReviewLog)}?note__regex=(")
    assert page.url.endswith("?e=1")
    shot(page, "hardening-lookup-e1")

    # A bulk action whose selection was tampered with: a message, nothing done.
    page.goto(changelist(ReviewItem))
    page.locator("input[name=_selected_action]").first.evaluate("box => { box.value = 'abc' }")
    page.locator("input[name=_selected_action]").first.check()
    page.select_option("select[name=action]", "assign_to_me")
    page.click("button[name=index]")
    assert "The selection is not valid" in page.inner_text(".messagelist")
    shot(page, "hardening-bulk-selection")

    # Retry overrides nested 5,000 deep on a plan step: the plan's page with the error.
    page.goto(reverse("admin:warmup_warmupplan_change", args=[default_plan.pk]))
    page.fill("textarea[name=templates-0-retry_overrides]", "[" * 5000 + "]" * 5000)
    # The answer holds the 10,000 characters twice: read it once it has loaded, not as soon as
    # it starts (the plan's step table, where the error is, comes last).
    with page.expect_navigation():
        page.click("input[name=_continue]")
    assert "nested deeper than" in page.inner_text("#content")
    shot(page, "hardening-retry-overrides")
