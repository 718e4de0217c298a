"""The review queue's first page costs the same number of queries whatever the size of the
queue, with each filter applied, in the admin and in the review API: nothing is read per row
(no lazy relation, no policy lookup, no count of all phases)."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews.admin.queue import ReviewItemAdmin
from reviews.models import ReviewItem
from tests.clients import changelist, user_client
from tests.factories import BotFactory, WarmupPhaseFactory
from warmup.models import Platform, WarmupPhase

pytestmark = pytest.mark.django_db

QUEUE = changelist(ReviewItem)
API = "/api/v1/reviews/"
ODD_PLATFORM = Platform.values[1]  # the first assigned item's (see add_items)


def add_items(count: int, *, reviewer, bot) -> None:
    """`count` items in review that every filter below matches some of: two categories, two
    bots, every platform, half assigned to the reviewer, half waiting over a day."""
    other_bot = BotFactory()
    for n in range(count):
        phase = WarmupPhaseFactory(
            in_review=True,
            bot=bot if n % 2 else other_bot,
            category="login_failed" if n % 2 else "challenge_required",
            account__platform=Platform.values[n % len(Platform.values)],
            account__username=f"queue{count}x{n}",  # possible on every platform
        )
        if n % 2:
            WarmupPhase.objects.filter(pk=phase.pk).update(
                review_assignee=reviewer,
                review_required_since=timezone.now() - timedelta(days=2),
                escalation_level=3,
            )


def admin_filters(bot) -> list[dict]:
    return [
        {},
        {"category": "login_failed"},
        {"escalation_level": "3"},
        {"waiting": "24h"},
        {"assignee": "me"},
        {"assignee": "none"},
        {"phase_type": "profile_bio"},
        {"platform": "instagram"},
        {"bot": bot.name},
        {"account_status": "active"},
        {"q": "queue"},
        {"category": "login_failed", "platform": ODD_PLATFORM, "assignee": "me"},
    ]


def api_filters(bot) -> list[dict]:
    return [
        {},
        {"category": "login_failed"},
        {"escalation_level": "3"},
        {"waiting": "24h"},
        {"assignee": "me"},
        {"assignee": "none"},
        {"phase_type": "profile_bio"},
        {"platform": "instagram"},
        {"bot": bot.name},
        {"account_status": "active"},
        {"category": "login_failed", "platform": ODD_PLATFORM, "assignee": "me"},
    ]


def costs(get, filters: list[dict], rows) -> dict[str, tuple[int, int]]:
    """For each filter: (queries, rows shown) of one GET of the first page."""
    found = {}
    for query in filters:
        cache.clear()  # the admin's sidebar counts its incidents afresh (kept a few seconds)
        with CaptureQueriesContext(connection) as captured:
            response = get(query)
        assert response.status_code == 200, query
        found[str(query)] = (len(captured.captured_queries), rows(response))
    return found


def assert_constant(small: dict, large: dict) -> None:
    for query, (queries, shown) in small.items():
        assert shown > 0, f"{query} shows nothing: it proves nothing"
        assert large[query][1] > shown, f"{query} shows no more rows in the larger queue"
        assert large[query][0] == queries, f"{query}: {queries} queries, then {large[query][0]}"


def test_the_admin_queue_costs_the_same_queries_for_a_few_or_many_items_with_each_filter(
    reviewer, bot
):
    client = Client()
    client.force_login(reviewer)

    def get(query):
        return client.get(QUEUE, query)

    def rows(response):
        return len(response.context["cl"].result_list)

    add_items(4, reviewer=reviewer, bot=bot)
    small = costs(get, admin_filters(bot), rows)
    add_items(20, reviewer=reviewer, bot=bot)
    large = costs(get, admin_filters(bot), rows)

    assert_constant(small, large)


def test_the_review_api_costs_the_same_queries_for_a_few_or_many_items_with_each_filter(
    reviewer, bot
):
    client = user_client(reviewer)

    def get(query):
        return client.get(API, query)

    def rows(response):
        return len(response.json()["results"])

    add_items(4, reviewer=reviewer, bot=bot)
    small = costs(get, api_filters(bot), rows)
    add_items(20, reviewer=reviewer, bot=bot)
    large = costs(get, api_filters(bot), rows)

    assert_constant(small, large)


def test_a_one_page_admin_queue_reads_no_more_rows_than_its_count(reviewer, bot):
    # given: four items in review, two of them in one category, none on hold
    add_items(4, reviewer=reviewer, bot=bot)
    client = Client()
    client.force_login(reviewer)

    def rows_read(query) -> list[str]:
        """The statements of the page that read its rows (not the count)."""
        with CaptureQueriesContext(connection) as captured:
            response = client.get(QUEUE, query)
        assert response.status_code == 200
        return [
            q["sql"]
            for q in captured.captured_queries
            if q["sql"].startswith("SELECT")
            and "COUNT(" not in q["sql"]
            and ReviewItem._meta.db_table in q["sql"].split(" FROM ")[1].split(" ")[0]
            # the page's own rows read again by key, for the ones that came back
            and f'WHERE "{ReviewItem._meta.db_table}"."id" IN (' not in q["sql"]
        ]

    # then: a filter with two matches reads a page's rows at most, not the whole filtered queue
    two = rows_read({"category": "login_failed"})
    assert len(two) == 1 and two[0].endswith(f"LIMIT {ReviewItemAdmin.list_per_page}")
    # and a filter with none reads no rows at all
    assert rows_read({"category": "held"}) == []
