"""/metrics: what it says after a known sequence of events, who may read it, and what its
gauges cost (a constant number of queries, each on a status's partial index)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from config.monitoring import NOT_AUTHENTICATED, WRONG_TOKEN, phase_counts
from tests.builders import fail
from tests.conftest import requires_postgres
from tests.factories import AccountFactory, WarmupPhaseFactory, new_item_in_review
from warmup.models import ACTIVE_STATUSES, WarmupPhase
from warmup.selectors import analytics
from warmup.selectors.analytics import queue_depth_rows
from warmup.selectors.incidents import incident_count_rows
from warmup.services.bot_work import phase_claim, phase_complete
from warmup.services.resolutions import review_resume
from warmup.services.review import review_hold
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db

METRICS = "/metrics"
BIO = "profile_bio"  # the default plan's first phase type


@pytest.fixture
def open_metrics(settings):
    settings.METRICS_TOKEN = ""


def scrape(client, **headers) -> dict:
    """{(sample name, sorted labels): value} of one scrape."""
    response = client.get(METRICS, **headers)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def grew(before: dict, after: dict, name: str, **labels) -> float:
    """How much a counter or histogram sample grew (they are per process, not per test)."""
    return value(after, name, **labels) - value(before, name, **labels)


def depth(samples: dict, category: str, level: int) -> float:
    return value(
        samples, "warmup_review_queue_depth", category=category, escalation_level=str(level)
    )


def phases_by_status(samples: dict) -> dict:
    return {
        dict(labels)["status"]: n
        for (name, labels), n in samples.items()
        if name == "warmup_phases"
    }


# --- What it says ------------------------------------------------------------------------


def test_claims_a_failure_a_completion_and_a_resolution_show_in_the_metrics(
    client,
    open_metrics,
    bot,
    reviewer_actor,
    content_pool,
    clock,
    django_capture_on_commit_callbacks,
):
    # given three new accounts whose first phases the scheduler made ready
    for _ in range(3):
        AccountFactory()
    tick()
    before = scrape(client)

    # when bots claim all three; one fails and will be retried, one needs a person, one is done
    with django_capture_on_commit_callbacks(execute=True):
        retried, escalated, done = (phase_claim(bot=bot) for _ in range(3))
        fail(retried, bot, "network_error")
        fail(escalated, bot, "challenge_required")
        phase_complete(phase_id=done.pk, bot=bot, lease_token=done.lease_token)
    clock.shift(timedelta(hours=2))
    waiting = scrape(client)

    # then the counters say so, and the queue holds the escalated item, two hours old
    assert grew(before, waiting, "warmup_phase_claims_total", phase_type=BIO) == 3
    assert grew(before, waiting, "warmup_phase_completions_total", phase_type=BIO) == 1
    failures = "warmup_phase_failures_total"
    retry, review = "retry_scheduled", "review_required"
    assert grew(before, waiting, failures, category="network_error", decision=retry) == 1
    assert grew(before, waiting, failures, category="challenge_required", decision=review) == 1
    assert grew(before, waiting, failures, category="network_error", decision=review) == 0
    assert depth(waiting, "challenge_required", 0) == 1
    assert value(waiting, "warmup_review_oldest_age_seconds") == 7200
    # 3 accounts x 5 steps: the later steps pending (the done one's next waits out its delay)
    assert phases_by_status(waiting) == {
        "pending": 12,
        "available": 0,
        "content_assigned": 1,
        "in_progress": 0,
        "review_required": 1,
    }

    # when the scheduler ticks (the item rises to level 1) and a reviewer resumes it
    tick()
    escalated_now = scrape(client)
    with django_capture_on_commit_callbacks(execute=True):
        review_resume(
            phase_id=escalated.pk,
            reason_code="solved_challenge",
            note="Entered the SMS code",
            actor=reviewer_actor,
        )
    after = scrape(client)

    # then the tick is timed, the queue is empty, and the resolution took two hours
    assert grew(waiting, escalated_now, "warmup_scheduler_tick_duration_seconds_count") == 1
    assert depth(escalated_now, "challenge_required", 1) == 1
    assert depth(escalated_now, "challenge_required", 0) == 0
    assert depth(after, "challenge_required", 1) == 0
    assert value(after, "warmup_review_oldest_age_seconds") == 0
    resumed = "warmup_review_time_in_review_seconds"
    assert grew(before, after, f"{resumed}_count", method="resume") == 1
    assert grew(before, after, f"{resumed}_sum", method="resume") == 7200
    assert grew(before, after, f"{resumed}_bucket", method="resume", le="3600.0") == 0
    assert grew(before, after, f"{resumed}_bucket", method="resume", le="14400.0") == 1
    assert phases_by_status(after)["available"] == 1
    assert phases_by_status(after)["review_required"] == 0


def test_a_claim_that_is_rolled_back_is_not_counted(
    client, open_metrics, bot, account, django_capture_on_commit_callbacks
):
    tick()
    before = scrape(client)

    # when a claim's transaction rolls back
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            assert phase_claim(bot=bot) is not None
            raise RuntimeError("the request died after the claim")
    # then nothing was counted; the claim that commits is
    assert grew(before, scrape(client), "warmup_phase_claims_total", phase_type=BIO) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert phase_claim(bot=bot) is not None
    assert grew(before, scrape(client), "warmup_phase_claims_total", phase_type=BIO) == 1


def test_the_open_incidents_and_the_largest_ones_size_are_gauges(
    client, open_metrics, bot, content_pool
):
    assert value(scrape(client), "warmup_open_incidents") == 0
    for n in range(3):
        WarmupPhaseFactory(
            in_review=True,
            bot=bot,
            category="proxy_error",
            retryable=False,
            reason=f"Proxy 10.0.0.{n} refused",
        )
    WarmupPhaseFactory(
        in_review=True, bot=bot, category="login_failed", retryable=False, reason="Bad password"
    )

    samples = scrape(client)

    assert value(samples, "warmup_open_incidents") == 2
    assert value(samples, "warmup_largest_incident_items") == 3
    assert value(samples, "warmup_open_breakers") == 0


def test_an_empty_system_reports_zeros_for_every_counted_status(client, open_metrics):
    samples = scrape(client)

    assert phases_by_status(samples) == dict.fromkeys(
        ["pending", "available", "content_assigned", "in_progress", "review_required"], 0
    )
    assert value(samples, "warmup_review_oldest_age_seconds") == 0
    assert "completed" not in phases_by_status(samples)


def test_the_metrics_and_the_analytics_count_the_same_queue(
    client, open_metrics, bot, reviewer_actor, content_pool, clock
):
    # given: two challenges and a proxy error that waited past the first escalation, a new
    # login failure, and an item a reviewer put on hold (no failure category)
    for category in ("challenge_required", "challenge_required", "proxy_error"):
        new_item_in_review(bot, category)
    clock.shift(timedelta(hours=2))
    tick()
    new_item_in_review(bot, "login_failed")
    account = AccountFactory()
    tick()
    active = WarmupPhase.objects.get(account=account, status__in=ACTIVE_STATUSES)
    review_hold(phase_id=active.pk, note="looks wrong", actor=reviewer_actor)

    # when: /metrics is scraped and the analytics read the queue (the stats API, the dashboard
    # and the report show the latter)
    samples = scrape(client)
    queue = analytics.queue_depth()

    # then: the gauges and the analytics count the same items per category and per level
    gauges = {
        (dict(labels)["category"], dict(labels)["escalation_level"]): n
        for (name, labels), n in samples.items()
        if name == "warmup_review_queue_depth"
    }
    assert gauges == {
        ("challenge_required", "1"): 2,
        ("proxy_error", "1"): 1,
        ("login_failed", "0"): 1,
        ("none", "0"): 1,
    }
    by_category, by_level = defaultdict(int), defaultdict(int)
    for (category, level), n in gauges.items():
        by_category[category] += n
        by_level[level] += n
    assert queue["by_category"] == by_category
    assert queue["by_escalation_level"] == by_level
    assert queue["total"] == sum(gauges.values()) == 5


# --- Who may read it -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization, status, body",
    [
        (None, 401, NOT_AUTHENTICATED),
        ("Bearer", 401, NOT_AUTHENTICATED),
        ("Token s3cret-metrics", 401, NOT_AUTHENTICATED),
        ("Bearer wrong", 403, WRONG_TOKEN),
        ("Bearer s3cret-metrics-and-more", 403, WRONG_TOKEN),
    ],
)
def test_with_a_token_set_a_missing_or_wrong_token_gets_no_data(
    client, settings, authorization, status, body
):
    settings.METRICS_TOKEN = "s3cret-metrics"
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get(METRICS, **headers)

    assert response.status_code == status
    assert response.content.decode() == body
    assert b"warmup_" not in response.content
    if status == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_wrong_metrics_tokens_count_against_the_address_as_on_the_apis(client, settings, clock):
    settings.METRICS_TOKEN = "s3cret-metrics"
    rest = settings.REST_FRAMEWORK
    settings.REST_FRAMEWORK = {
        **rest,
        "DEFAULT_THROTTLE_RATES": {**rest["DEFAULT_THROTTLE_RATES"], "auth_failures": "3/minute"},
    }
    guess = {"HTTP_AUTHORIZATION": "Bearer guess", "REMOTE_ADDR": "203.0.113.40"}
    right = {"HTTP_AUTHORIZATION": "Bearer s3cret-metrics", "REMOTE_ADDR": "203.0.113.40"}

    assert [client.get(METRICS, **guess).status_code for _ in range(3)] == [403, 403, 403]
    refused = client.get(METRICS, **right)  # past the limit the token is not even read

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert b"warmup_" not in refused.content
    other_address = client.get(METRICS, **{**right, "REMOTE_ADDR": "198.51.100.40"})
    assert other_address.status_code == 200
    clock.shift(timedelta(seconds=61))
    assert client.get(METRICS, **right).status_code == 200


def test_with_a_token_set_the_right_token_reads_the_metrics(client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics"

    samples = scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-metrics")

    assert "in_progress" in phases_by_status(samples)


def test_without_a_token_set_the_metrics_are_open(client, open_metrics):
    assert "in_progress" in phases_by_status(scrape(client))


def test_only_get_and_head(client, open_metrics):
    assert client.post(METRICS).status_code == 405
    assert client.head(METRICS).status_code == 200


# --- What it costs -------------------------------------------------------------------------


def test_a_scrape_costs_four_queries_however_many_phases(
    client, open_metrics, bot, content_pool, django_assert_num_queries
):
    with django_assert_num_queries(4):
        scrape(client)
    # given more accounts, phases in several statuses and a review queue
    for _ in range(4):
        AccountFactory()
    tick()
    fail(phase_claim(bot=bot), bot, "challenge_required")
    done = phase_claim(bot=bot)
    phase_complete(phase_id=done.pk, bot=bot, lease_token=done.lease_token)
    phase_claim(bot=bot)

    with django_assert_num_queries(4):
        scrape(client)


def test_the_gauge_queries_read_only_live_statuses_by_their_status(client, open_metrics):
    with CaptureQueriesContext(connection) as queries:
        scrape(client)

    phase_table = [q["sql"] for q in queries.captured_queries if "warmup_warmupphase" in q["sql"]]
    assert len(phase_table) == 3
    incidents = [sql for sql in phase_table if "review_signature" in sql]
    assert len(incidents) == 1
    assert incidents[0].count(""""warmup_warmupphase"."status" = 'review_required'""") == 1
    union, queue = sorted(set(phase_table) - set(incidents), key=len, reverse=True)
    # one equality on status per branch: each branch is served by that status's partial index
    statuses = ["pending", "available", "content_assigned", "in_progress", "review_required"]
    status_filters = [f""""warmup_warmupphase"."status" = '{s}'""" for s in statuses]
    assert all(f in union for f in status_filters), union
    assert union.count("UNION ALL") == 4
    assert queue.count(""""warmup_warmupphase"."status" = 'review_required'""") == 1
    assert "completed" not in union + queue


def explain(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Only for this test's transaction: if an index can serve the query, the plan
            # uses it; if none can, the plan still reads the table and says so.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


@pytest.mark.parametrize(
    "query",
    [phase_counts, queue_depth_rows, incident_count_rows],
    ids=["phases", "queue", "incidents"],
)
def test_each_gauge_query_can_be_served_by_the_partial_indexes(query):
    plan = explain(query())

    if connection.vendor == "postgresql":
        assert "Seq Scan on warmup_warmupphase" not in plan, plan
    else:
        reads = [line for line in plan.splitlines() if "warmup_warmupphase" in line]
        assert reads and all("USING" in line and "INDEX" in line for line in reads), plan
    # An index of ours serves it: a partial one of the statuses, or the one-active-phase
    # constraint's (its predicate covers review_required too), whichever the planner prices
    # lower on the tables as the suite left them.
    assert "_idx" in plan or "phase_one_active_per_account" in plan, plan


@requires_postgres
def test_on_postgresql_each_status_count_reads_a_partial_index_of_its_status():
    plan = explain(phase_counts())

    # One read per status, each an index scan (plain or bitmap), none of the table.
    reads = re.findall(r"Index Scan (?:using|on) (\w+)", plan)
    assert len(reads) == 5, plan
    assert "Seq Scan" not in plan, plan
    # Each index is a partial one whose rows are live phases: the status's own (which the
    # planner takes at a fleet's size, bench/README.md) or the one-active-phase constraint's,
    # which on tables as small as a test's it may price the same.
    own = {"phase_unlock_idx", "phase_assign_idx", "phase_claim_idx", "phase_lease_expiry_idx"}
    for index in reads:
        assert (
            index in own
            or re.fullmatch(r"phase_review_(queue|by_\w+)_idx", index)
            or index == "phase_one_active_per_account"
        ), plan
