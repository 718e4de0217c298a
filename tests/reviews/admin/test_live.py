"""The console's live parts (reviews/admin/live.py): the queue's, the incidents page's and the
dashboard's polls answer with what changed since the page was drawn, in one query each."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.builders import reload
from tests.clients import view_only_user
from tests.factories import UserFactory, WarmupPhaseFactory
from tests.incidents import proxy_incident
from warmup.domain.actors import Actor
from warmup.selectors.incidents import _in_review
from warmup.selectors.queue import queue_changes, review_queue
from warmup.services.resolutions import review_resolve

pytestmark = pytest.mark.django_db

QUEUE = "/admin/reviews/reviewitem/"
QUEUE_POLL = "/admin/reviews/reviewitem/live/"
INCIDENTS = "/admin/reviews/incident/"
INCIDENTS_POLL = "/admin/reviews/incident/live/"
DASHBOARD = "/admin/reviews/dashboard/"
DASHBOARD_POLL = "/admin/reviews/dashboard/live/"
# What every admin request reads to know who asks: the session, the user, their permissions.
WHO_ASKS = ("django_session", "auth_user", "auth_permission", "auth_group")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def poll_address(html: str) -> str:
    """The address the page's poll asks (its hx-get)."""
    found = re.search(r'class="live-poll" hx-get="([^"]+)"', html)
    assert found, "the page has no poll"
    return found.group(1).replace("&amp;", "&")


def own_queries(captured) -> list[str]:
    """The queries of a request besides those that find out who asks."""
    return [
        q["sql"] for q in captured if re.search(r'FROM "(\w+)"', q["sql"]).group(1) not in WHO_ASKS
    ]


def resume(item, user):
    return review_resolve(
        phase_id=item.pk,
        method="resume",
        reason_code="replaced_proxy",
        note="fixed the proxy",
        actor=Actor.for_user(user),
    )


@pytest.fixture
def items(content_pool, bot):
    return [
        WarmupPhaseFactory(
            in_review=True,
            bot=bot,
            category="network_error",
            retryable=False,
            reason=f"Timeout {n}",
        )
        for n in range(3)
    ]


def test_the_queue_page_polls_with_its_rows_its_filters_and_the_moment_it_was_drawn(
    items, reviewer
):
    before = timezone.now()
    page = logged_in(reviewer).get(QUEUE, {"category": "network_error"})

    address = poll_address(page.content.decode())
    assert address.startswith(QUEUE_POLL)
    query = parse_qs(urlsplit(address).query)
    assert sorted(map(int, query["shown"][0].split(","))) == sorted(item.pk for item in items)
    assert query["category"] == ["network_error"]
    assert timezone.datetime.fromisoformat(query["since"][0]) >= before


def test_a_row_someone_else_resolved_is_marked_with_who_did_it(items, reviewer):
    address = poll_address(logged_in(reviewer).get(QUEUE).content.decode())
    rita = UserFactory(reviewer=True, username="rita")
    resume(items[1], rita)

    answer = logged_in(reviewer).get(address)

    assert answer.status_code == 200
    html = answer.content.decode()
    assert re.search(
        rf'<span id="live-{items[1].pk}" class="live live-gone" hx-swap-oob="true">'
        r"Resolved by rita \(resumed automation\)</span>",
        html,
    ), html
    assert f'id="live-{items[0].pk}"' not in html  # still in review: left as it is
    assert "new item" not in html


def test_new_items_of_the_same_filters_are_counted_not_listed(items, reviewer, bot):
    address = poll_address(
        logged_in(reviewer).get(QUEUE, {"category": "network_error"}).content.decode()
    )
    WarmupPhaseFactory(
        in_review=True, bot=bot, category="network_error", retryable=False, reason="Timeout 9"
    )
    WarmupPhaseFactory(
        in_review=True, bot=bot, category="network_error", retryable=False, reason="Timeout 10"
    )
    WarmupPhaseFactory(in_review=True, bot=bot, category="login_failed", reason="Bad password")

    html = logged_in(reviewer).get(address).content.decode()

    assert "2 new items since you opened this page: show them" in html
    link = re.search(r'class="button live-new" href="([^"]+)"', html).group(1)
    assert link.replace("&amp;", "&") == f"{QUEUE}?category=network_error"


def test_a_search_narrows_what_counts_as_new(items, reviewer, bot):
    address = poll_address(logged_in(reviewer).get(QUEUE, {"q": "Timeout"}).content.decode())
    WarmupPhaseFactory(
        in_review=True, bot=bot, category="network_error", retryable=False, reason="Refused"
    )

    assert "new item" not in logged_in(reviewer).get(address).content.decode()


def test_nothing_changed_answers_an_empty_new_marker(items, reviewer):
    address = poll_address(logged_in(reviewer).get(QUEUE).content.decode())

    html = logged_in(reviewer).get(address).content.decode()

    assert '<span id="queue-new" class="queue-new" hx-swap-oob="true"></span>' in html
    assert "live-gone" not in html


def test_the_queue_poll_reads_the_queue_in_one_query(items, reviewer, bot):
    client = logged_in(reviewer)
    address = poll_address(client.get(QUEUE).content.decode())
    WarmupPhaseFactory(
        in_review=True, bot=bot, category="network_error", retryable=False, reason="Timeout 9"
    )
    resume(items[0], UserFactory(reviewer=True))  # after: a resumed item may be claimed again

    with CaptureQueriesContext(connection) as captured:
        answer = client.get(address)

    assert answer.status_code == 200
    assert "1 new item" in answer.content.decode()
    assert f'id="live-{items[0].pk}" class="live live-gone"' in answer.content.decode()
    assert len(own_queries(captured)) == 1, own_queries(captured)


def test_the_poll_query_can_be_served_by_indexes(items, reviewer):
    since = timezone.now() - timedelta(minutes=5)
    with CaptureQueriesContext(connection) as captured:
        queue_changes(review_queue(), shown=[item.pk for item in items], since=since)
    (sql,) = [q["sql"] for q in captured]

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan on warmup_warmupphase" not in plan, plan
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
            assert "SCAN warmup_warmupphase\n" not in plan + "\n", plan


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday&shown=1",
        "since=2026-12-06T10:00:00&shown=1",
        "shown=1,x&since=" + "2026-12-06T10:00:00%2B00:00",
    ],
    ids=["not a moment", "no time zone", "not an id"],
)
def test_a_poll_with_junk_gets_a_400_that_says_what_is_wrong(reviewer, query):
    answer = logged_in(reviewer).get(f"{QUEUE_POLL}?{query}")

    assert answer.status_code == 400
    assert answer.content.decode().startswith(("since:", "shown:"))


def test_the_polls_are_for_those_who_may_read_the_queue(db):
    outsider = logged_in(UserFactory(is_staff=True))
    for address in (QUEUE_POLL, INCIDENTS_POLL, DASHBOARD_POLL):
        assert outsider.get(address + "?since=2026-12-06T10:00:00%2B00:00").status_code == 403
        assert Client().get(address).status_code == 302  # to the login page


def test_a_viewer_sees_the_queue_kept_current_too(items):
    viewer = logged_in(view_only_user())
    address = poll_address(viewer.get(QUEUE).content.decode())
    resume(items[0], UserFactory(reviewer=True, username="rita"))

    assert "Resolved by rita" in viewer.get(address).content.decode()


# --- The incidents page --------------------------------------------------------------------


@pytest.fixture
def incidents(content_pool, bot):
    proxy = proxy_incident(bot, 3)
    login = WarmupPhaseFactory(
        in_review=True, bot=bot, category="login_failed", retryable=False, reason="Bad password"
    )
    return {"proxy": proxy, "login": login}


def test_the_incidents_page_keeps_each_count_current(incidents, reviewer):
    client = logged_in(reviewer)
    address = poll_address(client.get(INCIDENTS).content.decode())
    proxy_key = reload(incidents["proxy"][0]).review_signature_id
    login_key = reload(incidents["login"]).review_signature_id
    user = UserFactory(reviewer=True)
    resume(incidents["proxy"][0], user)
    resume(incidents["login"], user)

    with CaptureQueriesContext(connection) as captured:
        html = client.get(address).content.decode()

    assert f'<span id="incident-count-{proxy_key}" class="" hx-swap-oob="true">2</span>' in html
    assert f'<span id="incident-new-{proxy_key}" hx-swap-oob="true">2</span>' in html
    assert f'<span id="incident-resolve-{proxy_key}" hx-swap-oob="true">2</span>' in html
    assert (
        f'<span id="incident-count-{login_key}" class="live-gone" hx-swap-oob="true">'
        "none left</span>" in html
    )
    assert "new incident" not in html
    assert len(own_queries(captured)) == 1, own_queries(captured)


def test_an_incident_that_opened_after_the_page_was_drawn_is_announced(incidents, reviewer, bot):
    client = logged_in(reviewer)
    address = poll_address(client.get(INCIDENTS).content.decode())
    WarmupPhaseFactory(
        in_review=True,
        bot=bot,
        category="challenge_required",
        retryable=False,
        reason="Captcha shown",
    )

    html = client.get(address).content.decode()

    assert "1 new incident since you opened this page: show it" in html
    assert _in_review().values("review_signature").distinct().count() == 3


# --- The dashboard -------------------------------------------------------------------------


def test_the_dashboard_keeps_the_queue_counts_current_in_one_query(items, reviewer):
    client = logged_in(reviewer)
    page = client.get(DASHBOARD).content.decode()
    assert re.search(r'id="dash-queue-total">3<', page)
    address = poll_address(page)
    resume(items[0], UserFactory(reviewer=True))

    with CaptureQueriesContext(connection) as captured:
        html = client.get(address).content.decode()

    assert '<div class="number" id="dash-queue-total" hx-swap-oob="true">2</div>' in html
    assert re.search(
        r'<table id="dash-queue-by-category" hx-swap-oob="true">.*'
        r'<td>Network error</td><td class="n">2</td>',
        html,
        re.S,
    )
    assert len(own_queries(captured)) == 1, own_queries(captured)


def test_a_confirmation_page_left_open_while_someone_else_resolves_counts_them_refused(
    items, reviewer
):
    client = logged_in(reviewer)
    chosen = {"action": "resume", "_selected_action": [item.pk for item in items]}
    assert client.post(QUEUE, chosen).status_code == 200  # the confirmation page
    resume(items[0], UserFactory(reviewer=True, username="rita"))

    done = client.post(
        QUEUE,
        {**chosen, "confirm": "yes", "reason_code": "replaced_proxy", "note": "swapped"},
        follow=True,
    )

    (said,) = [str(message) for message in done.context["messages"]]
    assert said.startswith("Resumed 2 items")
    assert "1 not changed: no longer in review (resolved by someone else)" in said
    assert reload(items[0]).review_logs.filter(actor_user__username=reviewer.username).count() == 0
