"""Junk in the address of the admin's lists (the review queue, the log, the accounts, the bots):
every list filter's parameter, the search box, the ordering, the page, repeated and unknown
parameters, with NUL bytes, very long strings, unicode, SQL-ish text, negative and huge
numbers and values of the wrong type. Never a 500: the list (junk in a filter of our own
filters nothing), Django's redirect to `?e=1` for a lookup it cannot make, or the 400 saying a
NUL character is not taken here."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviews.models import ReviewItem, ReviewLog
from tests.clients import changelist
from tests.factories import AccountFactory, BotFactory, UserFactory, WarmupPhaseFactory
from warmup.models import Account, Bot

pytestmark = pytest.mark.django_db

JUNK = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "x" * 10_000,
    "\u202e\u0663\u00b2",
    "\U0001f4a5" * 50,
    "' OR 1=1 --",
    '"; DROP TABLE warmup_warmupphase; --',
    "%",
    "_",
    "\\",
    "-1",
    "0",
    "-0",
    "1.5",
    "1e309",
    "99999999999999999999999999",
    "-99999999999999999999999999",
    "9999",
    "0x10",
    "[]",
    "{}",
    "null",
    "true",
    "2024-13-45",
    "2024-02-30 25:61",
    "-.-",
]
# Django's own parameters of every list; `x` and `account__username__regex` are unknown here.
COMMON = ["q", "o", "p", "all", "e", "_facets", "_to_field", "_popup", "x"]
UNKNOWN_LOOKUPS = ["account__username__regex", "id__in", "pk"]
# Tried on every parameter one by one; the hypothesis test mixes all of JUNK and more.
WORST = ["\x00", "x" * 10_000, "\U0001f4a5\u202e", "' OR 1=1 --", "-1", "9999", "9" * 26]
LISTS = [ReviewItem, ReviewLog, Account, Bot]

junk_values = st.sampled_from(JUNK) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300
)


@pytest.fixture
def admin_client(content_pool):
    """A superuser (who sees every filter of every list), with something in each list."""
    bot = BotFactory()
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    WarmupPhaseFactory(
        account=AccountFactory(platform="tiktok"), bot=bot, in_review=True, category="login_failed"
    )
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, completed=True)
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def filter_parameters(client, model) -> list[str]:
    """The parameter names the list's filters (and its date hierarchy) read."""
    response = client.get(changelist(model))
    assert response.status_code == 200
    cl = response.context["cl"]
    names = [name for spec in cl.filter_specs for name in spec.expected_parameters()]
    if cl.date_hierarchy:
        field = cl.date_hierarchy
        names += [f"{field}__year", f"{field}__month", f"{field}__day"]
    assert names, model
    return names


def assert_handled(response, query: str) -> None:
    status = response.status_code
    if status == 302:
        assert response["Location"].endswith("?e=1"), response["Location"]
    elif status == 400:
        # A NUL character, or Django's refusal of a lookup no list allows (`__regex`) or of a
        # `_to_field` that is not a field.
        assert any(word in query for word in ("%00", "__regex=", "_to_field=")), query[:300]
    else:
        assert status == 200, (status, query[:300])


@pytest.mark.parametrize("model", LISTS, ids=lambda m: m._meta.model_name)
def test_each_filter_and_the_search_box_take_the_worst_junk(admin_client, model):
    url = changelist(model)
    for name in [*filter_parameters(admin_client, model), *COMMON, *UNKNOWN_LOOKUPS]:
        for value in WORST:
            query = urlencode({name: value})
            assert_handled(admin_client.get(f"{url}?{query}"), query)


@pytest.mark.parametrize("model", LISTS, ids=lambda m: m._meta.model_name)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_mix_of_filters_repeated_and_unknown_parameters_is_handled(admin_client, model, data):
    names = filter_parameters(admin_client, model) + COMMON + UNKNOWN_LOOKUPS
    pairs = data.draw(
        st.lists(st.tuples(st.sampled_from(names), junk_values), min_size=1, max_size=8)
    )
    query = urlencode(pairs)

    assert_handled(admin_client.get(f"{changelist(model)}?{query}"), query)


def test_junk_in_a_filter_of_ours_filters_nothing(admin_client):
    """The queue's own filters ignore a value that is not one of their choices."""
    everything = admin_client.get(changelist(ReviewItem)).context["cl"].result_count
    for name in filter_parameters(admin_client, ReviewItem):
        if name.startswith(("category", "escalation", "waiting", "assignee", "platform", "bot")):
            response = admin_client.get(changelist(ReviewItem), {name: "' OR 1=1 --"})
            assert response.context["cl"].result_count == everything, name
