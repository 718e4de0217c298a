"""The review dashboard: who may see it, what it shows, its CSV export, its window, and that its
cost does not grow with the review log."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reviews.admin.dashboard import window_start
from tests.builders import reload
from tests.factories import (
    FIRST_STEP,
    AccountFactory,
    BotFactory,
    UserFactory,
    WarmupPhaseFactory,
    new_item_in_review,
)
from warmup.models import PhaseStatus
from warmup.selectors import analytics
from warmup.services.accounts import account_pause
from warmup.services.bot_work import phase_claim
from warmup.services.resolutions import review_complete, review_resume, review_retry, review_skip
from warmup.services.review import review_hold
from warmup.services.tick import tick

WHY = {"reason_code": "replaced_proxy", "note": "new proxy"}


def dashboard_url(**query) -> str:
    url = reverse("reviews-dashboard")
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def csv_numbers(response) -> dict:
    """{(section, key, metric): value} of the CSV download."""
    rows = csv.DictReader(io.StringIO(response.content.decode()))
    return {(row["section"], row["key"], row["metric"]): row["value"] for row in rows}


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


# --- Who may see it --------------------------------------------------------------------------


def test_page_renders_for_a_reviewer_with_inline_svg_and_nothing_from_outside(reviewer_client, db):
    WarmupPhaseFactory(in_review=True, category="login_failed")

    response = reviewer_client.get(dashboard_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert "Items in review now" in html and "Median time in review" in html
    svgs = re.findall(r"<svg\b[^>]*pygal-chart.*?</svg>", html, flags=re.S)
    assert len(svgs) >= 3  # the daily flow, the queue by failure and by level
    assert not any("<script" in svg for svg in svgs)
    assert "Login failed" in svgs[1]
    # no script, stylesheet, image or frame from another host
    outside = re.findall(
        r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)=[\"'](?:https?:)?//", html, flags=re.I
    )
    assert outside == []
    assert "kozea.github.io" not in html


def test_staff_without_the_view_permission_gets_403(client, db):
    client.force_login(UserFactory())  # staff, no review permission

    assert client.get(dashboard_url()).status_code == 403
    assert client.get(dashboard_url(format="csv")).status_code == 403


def test_anonymous_users_are_sent_to_the_admin_login(client, db):
    response = client.get(dashboard_url())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_admin_index_links_to_the_dashboard(reviewer_client):
    html = reviewer_client.get(reverse("admin:index")).content.decode()

    assert f'href="{reverse("reviews-dashboard")}"' in html
    assert "Review dashboard" in html


# --- The window ------------------------------------------------------------------------------


@pytest.mark.parametrize("days", ["abc", "100000", "0", "-3", "", "1e3", "14.5"])
def test_a_bad_window_falls_back_to_14_days(reviewer_client, days):
    response = reviewer_client.get(reverse("reviews-dashboard"), {"days": days})

    assert response.status_code == 200
    assert response.context["days"] == 14
    assert len(response.context["daily"]) == 14
    exported = reviewer_client.get(reverse("reviews-dashboard"), {"days": days, "format": "csv"})
    assert exported.status_code == 200
    since = csv_numbers(exported)[("window", "", "since")]
    assert datetime.fromisoformat(since) == window_start(14)


@pytest.mark.parametrize("days", [1, 30, 90])
def test_a_window_of_n_days_shows_n_days(reviewer_client, days):
    response = reviewer_client.get(reverse("reviews-dashboard"), {"days": days})

    assert response.context["days"] == days
    assert len(response.context["daily"]) == days


def test_daily_counts_over_several_days(content_pool, bot, reviewer_actor, reviewer_client, clock):
    # given: on 8 March, before a 7-day window that ends on 16 March, one item enters review
    # and is skipped
    clock.move_to(datetime(2026, 3, 8, 9, 0, tzinfo=UTC))
    early = new_item_in_review(bot)
    review_skip(phase_id=early.pk, actor=reviewer_actor, **WHY)
    # 11 March: two enter review
    clock.move_to(datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    first, second = new_item_in_review(bot), new_item_in_review(bot, category="login_failed")
    # 12 March, late: one is completed by hand, a third enters review
    clock.move_to(datetime(2026, 3, 12, 23, 30, tzinfo=UTC))
    review_complete(phase_id=first.pk, actor=reviewer_actor, **WHY)
    third = new_item_in_review(bot)
    # 14 March, just after midnight: both are resolved, and the resumed one is held again
    clock.move_to(datetime(2026, 3, 14, 0, 15, tzinfo=UTC))
    review_skip(phase_id=second.pk, actor=reviewer_actor, **WHY)
    review_resume(phase_id=third.pk, actor=reviewer_actor, **WHY)
    review_hold(phase_id=third.pk, actor=reviewer_actor, note="looks wrong")
    clock.move_to(datetime(2026, 3, 16, 8, 0, tzinfo=UTC))

    response = reviewer_client.get(reverse("reviews-dashboard"), {"days": 7})
    exported = csv_numbers(
        reviewer_client.get(reverse("reviews-dashboard"), {"days": 7, "format": "csv"})
    )

    daily = {d["day"]: (d["entered"], d["resolved"]) for d in response.context["daily"]}
    assert daily == {
        date(2026, 3, 10): (0, 0),
        date(2026, 3, 11): (2, 0),
        date(2026, 3, 12): (1, 1),
        date(2026, 3, 13): (0, 0),
        date(2026, 3, 14): (1, 2),
        date(2026, 3, 15): (0, 0),
        date(2026, 3, 16): (0, 0),
    }
    assert exported[("flow.daily", "2026-03-11", "entered")] == "2"
    assert exported[("flow.daily", "2026-03-14", "resolved")] == "2"
    assert ("flow.daily", "2026-03-08", "resolved") not in exported
    assert response.context["entered_total"] == 4
    assert response.context["resolved_total"] == 3
    # a window with an end: 11 and 12 March
    since, until = datetime(2026, 3, 11, tzinfo=UTC), datetime(2026, 3, 13, tzinfo=UTC)
    assert analytics.daily_flow(since=since, until=until) == [
        {"day": date(2026, 3, 11), "entered": 2, "resolved": 0},
        {"day": date(2026, 3, 12), "entered": 1, "resolved": 1},
    ]
    assert analytics.resolutions_by_method(since=since, until=until)["complete"]["count"] == 1
    assert analytics.resolutions_by_reason_code(since=since, until=until)["replaced_proxy"] == {
        "count": 1,
        "success": None,
        "failed": None,
        "pending": None,
        "success_rate": None,
    }
    # a shorter window leaves the earlier days out
    short = reviewer_client.get(reverse("reviews-dashboard"), {"days": 3}).context
    assert [d["day"] for d in short["daily"]] == [date(2026, 3, d) for d in (16, 15, 14)]
    assert short["resolved_total"] == 2


# --- What it shows ---------------------------------------------------------------------------


def test_csv_export_has_the_numbers(content_pool, bot, reviewer_actor, reviewer_client, clock):
    skipped = new_item_in_review(bot, category="login_failed")
    clock.shift(timedelta(minutes=10))
    review_skip(phase_id=skipped.pk, actor=reviewer_actor, **WHY)
    retried = new_item_in_review(bot)
    waiting = new_item_in_review(bot, category="proxy_error")
    clock.shift(timedelta(minutes=30))
    review_retry(phase_id=retried.pk, actor=reviewer_actor, **WHY)

    response = reviewer_client.get(reverse("reviews-dashboard"), {"format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "key", "metric", "value"]
    numbers = csv_numbers(response)
    assert datetime.fromisoformat(numbers[("window", "", "since")]) == window_start(14)
    assert numbers[("queue", "", "total")] == "1"
    assert numbers[("queue.by_category", "proxy_error", "items")] == "1"
    assert numbers[("queue.by_escalation_level", "0", "items")] == "1"
    assert numbers[("time_in_review", "", "resolved")] == "2"
    assert float(numbers[("time_in_review", "", "median_seconds")]) == 20 * 60
    assert numbers[("resolutions", "skip", "count")] == "1"
    assert numbers[("resolutions", "retry", "count")] == "1"
    assert numbers[("resolutions", "retry", "pending")] == "1"
    assert numbers[("resolutions", "retry", "success_rate")] == ""  # nothing decided yet
    assert numbers[("reason_codes", "replaced_proxy", "count")] == "2"
    assert numbers[("oldest", str(waiting.pk), "failure_category")] == "proxy_error"
    assert numbers[("top_escalations.bot", bot.name, "escalations")] == "3"
    assert numbers[("oldest", str(waiting.pk), "seconds_in_review")] == str(30 * 60)
    daily = {(k, m): int(v) for (section, k, m), v in numbers.items() if section == "flow.daily"}
    assert sum(n for (_, m), n in daily.items() if m == "entered") == 3
    assert sum(n for (_, m), n in daily.items() if m == "resolved") == 2
    assert numbers[("flow", "", "entered")] == "3"


def test_oldest_open_items_link_to_their_review_page(content_pool, bot, reviewer_client, clock):
    older = new_item_in_review(bot)
    clock.shift(timedelta(hours=2))
    newer = new_item_in_review(bot, category="login_failed")
    clock.shift(timedelta(minutes=3))

    response = reviewer_client.get(reverse("reviews-dashboard"))

    oldest = response.context["oldest"]
    assert [item["phase_id"] for item in oldest] == [older.pk, newer.pk]
    assert [item["age"] for item in oldest] == ["2 h 3 min", "3 min"]
    html = response.content.decode()
    for item in (older, newer):
        assert reverse("admin:reviews_reviewitem_change", args=[item.pk]) in html


def test_top_escalations_by_phase_type_platform_and_bot(content_pool, reviewer_client, clock):
    busy, quiet = BotFactory(name="busy-bot"), BotFactory(name="quiet-bot")
    for _ in range(3):
        new_item_in_review(busy)
    new_item_in_review(quiet)
    # a lease that expires until the retries run out: the system escalates, the bot is named
    account = AccountFactory()
    for _ in range(3):  # the first attempt and two automatic retries
        tick()
        clock.shift(timedelta(minutes=30))  # past the retry's backoff
        phase = phase_claim(bot=quiet, phase_types=[FIRST_STEP])
        assert phase.account_id == account.pk
        clock.shift(phase.template.lease_duration + timedelta(minutes=1))
    tick()
    assert reload(phase).status == PhaseStatus.REVIEW_REQUIRED

    top = reviewer_client.get(reverse("reviews-dashboard")).context["top_escalations"]

    by = {heading: rows for heading, rows, _ in top}
    assert by["bots"] == [("busy-bot", 3), ("quiet-bot", 2)]
    assert by["phase types"] == [("profile_bio", 5)]
    assert sum(n for _, n in by["platforms"]) == 5


def test_holds_enter_review_but_are_not_escalations(content_pool, reviewer_actor, clock):
    phase = WarmupPhaseFactory(content_assigned=True)
    since = timezone.now()
    review_hold(phase_id=phase.pk, actor=reviewer_actor, note="check this account first")

    flow = analytics.daily_flow(since=since)
    top = analytics.top_escalations(since=since)

    assert sum(day["entered"] for day in flow) == 1
    assert top == {"phase_type": [], "platform": [], "bot": []}


# --- Its cost --------------------------------------------------------------------------------


def build_resolutions(count: int, bot, actor):
    """`count` items sent to review and resolved by every method, and one left open. Resumed
    phases are held again (a resolution that failed); retried ones wait on a paused account
    (pending), so no later claim picks them up."""
    phases = [
        new_item_in_review(bot, category=("login_failed", "content_rejected")[n % 2])
        for n in range(count)
    ]
    new_item_in_review(bot)  # left open
    resolvers = [review_resume, review_retry, review_complete, review_skip]
    for n, phase in enumerate(phases):
        resolve = resolvers[n % len(resolvers)]
        resolve(phase_id=phase.pk, actor=actor, **WHY)
        if resolve is review_resume:
            review_hold(phase_id=phase.pk, actor=actor, note="came back")
        elif resolve is review_retry:
            account_pause(account=phase.account, actor=actor, note="parked")


def test_query_count_does_not_grow_with_the_log(
    content_pool, bot, reviewer_actor, reviewer_client, django_assert_max_num_queries
):
    build_resolutions(10, bot, reviewer_actor)
    with CaptureQueriesContext(connection) as with_10:
        assert reviewer_client.get(reverse("reviews-dashboard")).status_code == 200

    build_resolutions(40, bot, reviewer_actor)

    with django_assert_max_num_queries(len(with_10.captured_queries)):
        response = reviewer_client.get(reverse("reviews-dashboard"))
    assert response.context["resolved_total"] == 50
    build_resolutions(10, bot, reviewer_actor)
    with CaptureQueriesContext(connection) as csv_with_60:
        reviewer_client.get(reverse("reviews-dashboard"), {"format": "csv"})
    build_resolutions(40, bot, reviewer_actor)
    with django_assert_max_num_queries(len(csv_with_60.captured_queries)):
        exported = reviewer_client.get(reverse("reviews-dashboard"), {"format": "csv"})
    assert csv_numbers(exported)[("time_in_review", "", "resolved")] == "100"


def test_an_empty_history_reads_plainly(reviewer_client):
    response = reviewer_client.get(reverse("reviews-dashboard"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Nothing is waiting for review." in html
    assert "Nothing was resolved in this window." in html
    assert response.context["median"] == "-"
