"""The review dashboard and the review API's stats read the same analytics: for the same window
they show the same queue depth, time in review and resolutions by method with success rates.
The `history` fixture is in tests/history.py."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse

from reviews.admin.dashboard import duration_or_dash, window_start
from tests.factories import new_item_in_review
from warmup.models import PhaseStatus, WarmupPhase
from warmup.selectors.analytics import oldest_in_review

STATS = "/api/v1/reviews/stats/"


def csv_numbers(response) -> dict:
    """The download's rows by (section, key, metric): the shape of review_report's CSV."""
    rows = csv.DictReader(io.StringIO(response.content.decode()))
    return {(row["section"], row["key"], row["metric"]): row["value"] for row in rows}


def number(value: str):
    return None if value == "" else float(value)


def test_dashboard_and_stats_api_agree_for_the_same_window(history, client, reviewer):
    client.force_login(reviewer)
    since = window_start(7)

    api = client.get(STATS, {"since": since.isoformat()}).json()
    page = client.get(reverse("reviews-dashboard"), {"days": 7})
    exported = csv_numbers(client.get(reverse("reviews-dashboard"), {"days": 7, "format": "csv"}))

    # then: the queue now (the failed retry is back at level 0, the open one is at level 2)
    assert api["queue"] == {
        "total": 2,
        "by_category": {"login_failed": 1, "action_blocked": 1},
        "by_escalation_level": {"0": 1, "2": 1},
    }
    assert (
        int(exported[("queue", "", "total")])
        == api["queue"]["total"]
        == page.context["queue_total"]
    )
    for category, n in api["queue"]["by_category"].items():
        assert int(exported[("queue.by_category", category, "items")]) == n
    for level, n in api["queue"]["by_escalation_level"].items():
        assert int(exported[("queue.by_escalation_level", level, "items")]) == n

    # time in review: 20 min, 1 h, 2 h, 5 h (the skip 10 days ago is outside the window)
    time_in_review = api["time_in_review"]
    assert time_in_review["resolved"] == 4
    assert time_in_review["median_seconds"] == 90 * 60
    assert time_in_review["p90_seconds"] == pytest.approx(4.1 * 3600)
    for key in ("resolved", "median_seconds", "p90_seconds"):
        assert number(exported[("time_in_review", "", key)]) == pytest.approx(time_in_review[key])
    assert page.context["median"] == duration_or_dash(time_in_review["median_seconds"])
    assert page.context["p90"] == duration_or_dash(time_in_review["p90_seconds"])
    assert "1 h 30 min" in page.content.decode()

    # resolutions by method with success rates
    resolutions = api["resolutions"]
    assert resolutions["resume"] == {
        "count": 1,
        "success": 1,
        "failed": 0,
        "pending": 0,
        "success_rate": 1.0,
    }
    assert resolutions["retry"] == {
        "count": 2,
        "success": 0,
        "failed": 1,
        "pending": 1,
        "success_rate": 0.0,
    }
    assert resolutions["complete"]["count"] == 1 and resolutions["skip"]["count"] == 0
    for method, entry in resolutions.items():
        for field, value in entry.items():
            assert number(exported[("resolutions", method, field)]) == value, (method, field)
    shown = {row["key"]: row for row in page.context["methods"]}
    assert shown["resume"]["success_rate"] == "100 %"
    assert shown["retry"]["success_rate"] == "0 %"
    assert shown["retry"]["count"] == 2


def test_without_a_window_the_stats_count_every_resolution(history, client, reviewer):
    client.force_login(reviewer)

    api = client.get(STATS).json()

    assert api["time_in_review"]["resolved"] == 5
    assert api["resolutions"]["skip"]["count"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [1, 2, 4, 10])
def test_the_oldest_items_are_oldest_first_whatever_their_escalation_level(
    content_pool, bot, clock, limit
):
    # given: items in review a few minutes apart, whose levels do not follow their age (one
    # above the thresholds' top, as after the thresholds were shortened)
    items = []
    for level in (0, 2, 0, 5, 1):
        item = new_item_in_review(bot)
        WarmupPhase.objects.filter(pk=item.pk).update(escalation_level=level)
        items.append(item)
        clock.shift(timedelta(minutes=7))

    oldest = oldest_in_review(limit=limit)

    in_age_order = WarmupPhase.objects.filter(status=PhaseStatus.REVIEW_REQUIRED).order_by(
        "review_required_since", "id"
    )
    assert [one["phase_id"] for one in oldest] == [item.pk for item in items][:limit]
    assert [one["phase_id"] for one in oldest] == list(
        in_age_order.values_list("pk", flat=True)[:limit]
    )
    assert oldest[0]["seconds_in_review"] == 5 * 7 * 60
