"""The queue as CSV (issue #18): the items the list shows with its filters, search and
ordering, every one of them (not a page), with what failed, how long each has waited and a
link to its page, formula-safe; and the dashboard's CSV shaped as `review_report --format csv`."""

import csv
import io
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reviews.admin import dashboard
from reviews.models import ReviewItem
from tests.clients import changelist, view_only_user
from tests.conftest import requires_postgres
from tests.factories import UserFactory, WarmupPhaseFactory, new_item_in_review
from warmup.models import WarmupPhase

pytestmark = pytest.mark.django_db

QUEUE = changelist(ReviewItem)
CSV = "/admin/reviews/reviewitem/csv/"


@pytest.fixture
def reviewer_client(reviewer):
    client = Client()
    client.force_login(reviewer)
    return client


def rows_of(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_queue_page_offers_its_filtered_items_as_csv(reviewer_client, bot):
    for _ in range(3):
        new_item_in_review(bot, "login_failed")
    new_item_in_review(bot)

    html = reviewer_client.get(QUEUE, {"category": "login_failed", "p": "1"}).content.decode()

    assert f'href="{CSV}?category=login_failed"' in html
    assert "Download these 3 as CSV" in html


def test_the_csv_holds_the_filtered_items_with_what_failed_their_ages_and_links(
    reviewer_client, bot
):
    login = [new_item_in_review(bot, "login_failed") for _ in range(2)]
    new_item_in_review(bot)  # a challenge: filtered out
    since = timezone.now() - timedelta(hours=3)
    WarmupPhase.objects.filter(pk=login[0].pk).update(review_required_since=since)

    rows = rows_of(reviewer_client.get(CSV, {"category": "login_failed"}))

    assert [int(row["item"]) for row in rows] == [login[0].pk, login[1].pk]  # oldest first
    first = rows[0]
    assert first["failure category"] == "Login failed"
    assert first["failure reason"] == login[0].last_failure_reason
    assert first["signature"] == WarmupPhase.objects.get(pk=login[0].pk).review_signature.title
    assert 3 * 3600 <= int(first["seconds in review"]) < 3 * 3600 + 60
    assert first["hours in review"] == "3.0"
    assert first["in review since"].startswith(since.isoformat()[:16])
    assert first["item page"] == "http://testserver" + reverse(
        "admin:reviews_reviewitem_change", args=[login[0].pk]
    )


def test_the_csv_follows_the_search_and_ignores_the_page(reviewer_client):
    items = [WarmupPhaseFactory(in_review=True) for _ in range(55)]
    wanted = items[7]

    everything = rows_of(reviewer_client.get(CSV, {"p": "2"}))
    searched = rows_of(reviewer_client.get(CSV, {"q": wanted.account.username}))

    assert len(everything) == 55
    assert [row["item"] for row in searched] == [str(wanted.pk)]


def test_a_cell_that_starts_like_a_formula_is_not_run_by_a_spreadsheet(reviewer_client):
    WarmupPhaseFactory(in_review=True, reason='=HYPERLINK("http://evil")')

    (row,) = rows_of(reviewer_client.get(CSV))

    assert row["failure reason"] == '\'=HYPERLINK("http://evil")'


def test_bad_filters_in_the_address_give_a_message_not_a_500(reviewer_client):
    response = reviewer_client.get(CSV, {"id__in": "1" * 25}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith(QUEUE)


def test_someone_who_may_not_read_the_queue_gets_no_csv(db):
    WarmupPhaseFactory(in_review=True)
    client = Client()
    client.force_login(UserFactory(username="nobody"))

    assert client.get(CSV).status_code == 403


def test_a_reader_of_the_queue_may_download_it(db):
    WarmupPhaseFactory(in_review=True)
    client = Client()
    client.force_login(view_only_user())

    assert len(rows_of(client.get(CSV))) == 1


def test_the_dashboards_csv_has_the_columns_of_review_report(reviewer_client, bot):
    new_item_in_review(bot)
    out = io.StringIO()
    since = dashboard.window_start(dashboard.DEFAULT_DAYS).isoformat()
    call_command("review_report", "--format", "csv", "--since", since, stdout=out)
    report = list(csv.reader(io.StringIO(out.getvalue())))

    response = reviewer_client.get(reverse("reviews-dashboard"), {"format": "csv"})
    download = list(csv.reader(io.StringIO(response.content.decode())))

    assert download[0] == report[0]
    assert {len(row) for row in download} == {len(report[0])}
    # the same sections and metrics (the dashboard's window is the same default 7 days)
    assert {tuple(row[:3]) for row in download[1:]} == {tuple(row[:3]) for row in report[1:]}


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_thousands_of_items_stream_in_a_few_queries_and_seconds(fleet_filler, superuser_client):
    # given: the benchmark fleet, with thousands of items in review (CSV_FLEET accounts; 100,000
    # make over 10,000 items, measured once for the README: 40,000 make 4,000)
    accounts = int(os.environ.get("CSV_FLEET", "15000"))
    with transaction.atomic(), connection.cursor() as cursor:
        fleet_filler(cursor, accounts, datetime.now(UTC).replace(microsecond=0))
    waiting = ReviewItem.objects.filter(status="review_required").count()
    assert waiting >= accounts // 20

    # when: the whole queue is downloaded
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        rows = rows_of(superuser_client.get(CSV))
    took = time.monotonic() - started

    # then: every item, read in chunks (not one query per row), in seconds
    assert len(rows) == waiting
    assert len(queries) < 30 + waiting // 1000
    assert took < 20, f"{waiting} rows took {took:.1f} s"
    print(f"{waiting} rows in {took:.2f} s, {len(queries)} queries")
