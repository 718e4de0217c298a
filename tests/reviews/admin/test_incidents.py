"""The incidents page: the queue grouped by failure signature, a whole incident resolved through
the one resolution path with what will be refused said first, its batch page and its undo."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import ReviewLog
from tests.builders import reload
from tests.clients import view_only_user
from tests.factories import UserFactory, WarmupPhaseFactory
from tests.incidents import dead_proxy_breaker, proxy_incident
from tests.resolved import CAME_BACK, WORKED, resolve_then
from warmup.domain.actors import Actor
from warmup.models import AccountStatus, PhaseStatus
from warmup.services.accounts import account_pause

pytestmark = pytest.mark.django_db

INCIDENTS = "/admin/reviews/incident/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def incident(content_pool, bot):
    items = proxy_incident(bot, 4)
    others = [
        WarmupPhaseFactory(
            in_review=True, bot=bot, category="login_failed", retryable=False, reason="Bad password"
        )
    ]
    return {"items": items, "others": others, "signature": reload(items[0]).review_signature_id}


def test_the_page_shows_one_row_per_incident_largest_first(incident, reviewer):
    page = logged_in(reviewer).get(INCIDENTS)

    assert page.status_code == 200
    html = page.content.decode()
    rows = re.findall(r'<tr class="incident" data-signature="([0-9a-f]{16})"', html)
    assert rows[0] == incident["signature"]
    assert len(rows) == 2
    assert (
        "proxy_error on profile_bio: Proxy &lt;ip&gt;:&lt;port&gt; refused the connection" in html
    )
    assert f"?signature={incident['signature']}" in html  # the row opens the filtered queue
    assert '<svg class="sparkline"' in html
    assert re.search(r"Resolve all <span[^>]*>4</span>", html)


def test_the_queue_filtered_to_an_incident_lists_its_items_only(incident, reviewer):
    page = logged_in(reviewer).get(
        reverse("admin:reviews_reviewitem_changelist"), {"signature": incident["signature"]}
    )

    assert page.status_code == 200
    shown = {item.pk for item in page.context["cl"].result_list}
    assert shown == {item.pk for item in incident["items"]}


def test_a_viewer_sees_incidents_but_cannot_resolve_them(incident):
    client = logged_in(view_only_user())

    assert client.get(INCIDENTS).status_code == 200
    assert "Resolve all" not in client.get(INCIDENTS).content.decode()
    url = reverse("admin:reviews_incident_resolve", args=[incident["signature"]])
    assert client.get(url).status_code == 403


def test_the_confirmation_counts_what_each_resolution_would_refuse_before_writing(
    incident, reviewer, reviewer_actor
):
    paused = incident["items"][0].account
    account_pause(account=paused, actor=reviewer_actor, note="checking")
    log_rows = ReviewLog.objects.count()

    page = logged_in(reviewer).get(
        reverse("admin:reviews_incident_resolve", args=[incident["signature"]])
    )

    assert page.status_code == 200
    outcomes = {o["value"]: o for o in page.context["outcomes"]}
    assert outcomes["resume"]["resolved"] == 3
    assert outcomes["resume"]["refused"] == [
        ("the account is suspended or paused: reactivate it first", 1)
    ]
    assert outcomes["skip"]["resolved"] == 4 and outcomes["skip"]["refused"] == []
    assert ReviewLog.objects.count() == log_rows  # nothing written
    paused.refresh_from_db()
    assert paused.status == AccountStatus.PAUSED


def test_resolving_an_incident_resolves_its_items_then_the_batch_page_undoes_it(incident, reviewer):
    client = logged_in(reviewer)
    url = reverse("admin:reviews_incident_resolve", args=[incident["signature"]])

    response = client.post(
        url, {"method": "resume", "reason_code": "replaced_proxy", "note": "pool back"}
    )

    # then: every item of the incident resumed, the other incident untouched
    assert response.status_code == 302
    for item in incident["items"]:
        assert reload(item).status == PhaseStatus.AVAILABLE
    assert reload(incident["others"][0]).status == PhaseStatus.REVIEW_REQUIRED
    batch = ReviewLog.objects.filter(phase=incident["items"][0]).latest("id").batch
    assert response["Location"] == reverse("admin:reviews_incident_batch", args=[batch])

    page = client.get(response["Location"])
    html = page.content.decode()
    assert re.search(r'id="batch-done">4 items<', html)
    assert re.search(r'id="batch-left">.*0 items of this incident', html)
    assert "Undo this batch" in html

    # when: the reviewer undoes it from the batch page
    undone = client.post(
        reverse("admin:reviews_incident_undo", args=[batch]), {"note": "wrong pool"}
    )
    assert undone.status_code == 302
    for item in incident["items"]:
        assert reload(item).status == PhaseStatus.REVIEW_REQUIRED
    # the batch page now says it was undone, and offers no second undo
    again = client.get(reverse("admin:reviews_incident_batch", args=[batch])).content.decode()
    assert "This batch was undone by batch" in again
    assert "Undo this batch" not in again


def test_an_undo_without_a_note_changes_nothing(incident, reviewer):
    client = logged_in(reviewer)
    client.post(
        reverse("admin:reviews_incident_resolve", args=[incident["signature"]]),
        {"method": "skip", "reason_code": "other", "note": "noise"},
    )
    batch = ReviewLog.objects.filter(phase=incident["items"][0]).latest("id").batch

    response = client.post(reverse("admin:reviews_incident_undo", args=[batch]), {"note": " "})

    assert response.status_code == 302
    assert all(reload(item).status == PhaseStatus.COMPLETED for item in incident["items"])


def test_a_resolution_without_reason_or_note_shows_the_form_again(incident, reviewer):
    page = logged_in(reviewer).post(
        reverse("admin:reviews_incident_resolve", args=[incident["signature"]]),
        {"method": "resume"},
    )

    assert page.status_code == 200
    assert "Please correct the error below." in page.content.decode()
    assert all(reload(item).status == PhaseStatus.REVIEW_REQUIRED for item in incident["items"])


@pytest.mark.parametrize("signature", ["nope", "0" * 16, "<script>", "a" * 200])
def test_an_unknown_or_malformed_incident_is_a_404_not_a_500(incident, reviewer, signature):
    client = logged_in(reviewer)
    assert (
        client.get(reverse("admin:reviews_incident_resolve", args=[signature])).status_code == 404
    )
    assert client.get(f"{INCIDENTS}batch/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_the_incident_offers_what_worked_before_for_its_signature(content_pool, bot, reviewer):
    """Five resumes of the same failure that worked: the incident's row names the resume and
    its count, and its confirmation page comes with resume and its reason chosen."""
    actor = Actor.for_user(reviewer)
    for item in proxy_incident(bot, 5):
        resolve_then(
            item, method="resume", reason_code="replaced_proxy", then=WORKED, bot=bot, actor=actor
        )
    waiting = proxy_incident(bot, 2)
    signature = reload(waiting[0]).review_signature_id
    client = logged_in(reviewer)

    listed = client.get(INCIDENTS).content.decode()
    confirm = client.get(reverse("admin:reviews_incident_resolve", args=[signature]))

    assert "Resume automation (replaced proxy): worked 5 of 5 (100 %)" in listed
    assert confirm.context["form"].initial == {"method": "resume", "reason_code": "replaced_proxy"}
    assert "What worked before for failures like this one" in confirm.content.decode()


@pytest.fixture
def breaker_open(settings, content_pool, clock):
    return dead_proxy_breaker(settings, clock)


def test_an_open_breaker_shows_on_the_incidents_page_and_a_lead_closes_it(breaker_open, settings):
    lead = UserFactory(lead=True)
    client = logged_in(lead)
    settings.METRICS_TOKEN = ""
    assert "warmup_open_breakers 1.0" in client.get("/metrics").content.decode()

    page = client.get(INCIDENTS).content.decode()

    assert 'id="breakers"' in page
    assert "profile_bio phases on Instagram" in page
    assert "6 failures of 6 attempts in the window" in page
    assert '<span class="breaker-badge">breaker open</span>' in page

    # without a note nothing closes; with one, it closes and says so
    url = reverse("admin:reviews_incident_close_breaker", args=[breaker_open.pk])
    client.post(url, {"reason_code": "replaced_proxy", "note": ""})
    breaker_open.refresh_from_db()
    assert breaker_open.closed_at is None
    done = client.post(url, {"reason_code": "replaced_proxy", "note": "new proxies"}, follow=True)
    breaker_open.refresh_from_db()
    assert breaker_open.closed_at is not None and breaker_open.close_note == "new proxies"
    assert "bots may claim profile_bio phases on Instagram again" in done.content.decode()
    assert 'id="breakers"' not in done.content.decode()
    assert "warmup_open_breakers 0.0" in client.get("/metrics").content.decode()


def test_a_reviewer_sees_the_breaker_but_may_not_close_it(breaker_open, reviewer):
    client = logged_in(reviewer)

    page = client.get(INCIDENTS).content.decode()
    refused = client.post(
        reverse("admin:reviews_incident_close_breaker", args=[breaker_open.pk]),
        {"reason_code": "replaced_proxy", "note": "x"},
    )

    assert 'id="breakers"' in page and "Close breaker" not in page
    assert refused.status_code == 403
    breaker_open.refresh_from_db()
    assert breaker_open.closed_at is None


def test_the_incident_counts_its_items_that_came_back_after_a_resolution(
    content_pool, bot, reviewer
):
    actor = Actor.for_user(reviewer)
    first, second, fresh = proxy_incident(bot, 3)
    for item in (first, second):
        resolve_then(
            item,
            method="resume",
            reason_code="replaced_proxy",
            then=CAME_BACK,
            bot=bot,
            actor=actor,
        )

    html = logged_in(reviewer).get(INCIDENTS).content.decode()

    cell = re.search(r'<td class="n came-back"[^>]*>(\d+)</td>', html)
    assert cell is not None and cell.group(1) == "2"
    assert reload(fresh).review_signature_id == reload(first).review_signature_id


def test_the_queue_filtered_to_an_incident_offers_to_resolve_what_it_lists(incident, reviewer):
    client = logged_in(reviewer)
    signature = incident["signature"]
    platform = incident["items"][0].account.platform
    listed = sum(1 for item in incident["items"] if item.account.platform == platform)

    page = client.get(
        reverse("admin:reviews_reviewitem_changelist"),
        {"signature": signature, "platform": platform},
    )
    html = page.content.decode()

    assert "Incident: <strong>proxy_error on profile_bio" in html
    link = re.search(rf'href="([^"]+)">Resolve the {listed} listed</a>', html)
    assert link is not None, html
    confirm = client.get(link.group(1).replace("&amp;", "&"))
    assert confirm.context["count"] == listed < len(incident["items"])  # the platform is kept
    assert confirm.context["narrowed"] is True


# --- Pages of incidents --------------------------------------------------------------------

SCREENS = [f"{a}{b}" for a in "bcdfghjklm" for b in "aeiou"]  # words the signature keeps


def many_incidents(bot, count: int) -> list[str]:
    """`count` incidents of one item each, their signatures in the order the page lists them
    (the later an item came into review, the earlier its incident: all else is equal)."""
    phases = [
        WarmupPhaseFactory(
            in_review=True,
            bot=bot,
            category="challenge_required",
            retryable=False,
            reason=f"The {word} screen did not load",
        )
        for word in SCREENS[:count]
    ]
    keys = {reload(phase).review_signature_id for phase in phases}
    assert len(keys) == count  # each its own incident
    return keys


def listed(html: str) -> list[str]:
    return re.findall(r'<tr class="incident" data-signature="([0-9a-f]{16})"', html)


def test_the_incidents_come_25_to_a_page_largest_first(content_pool, bot, reviewer):
    keys = many_incidents(bot, 27)
    client = logged_in(reviewer)

    first = client.get(INCIDENTS).content.decode()
    second = client.get(f"{INCIDENTS}?p=2").content.decode()

    assert len(listed(first)) == 25 and len(listed(second)) == 2
    assert set(listed(first)) | set(listed(second)) == keys
    assert "Incidents 1 to 25 of 27, largest first." in first
    assert f'<a href="{INCIDENTS}?p=2">Next 2 &rsaquo;</a>' in first
    assert "Incidents 26 to 27 of 27, largest first." in second
    assert f'<a href="{INCIDENTS}?p=1">&lsaquo; Previous 25</a>' in second


@pytest.mark.parametrize("asked, lands", [("9", f"{INCIDENTS}?p=2"), ("abc", None), ("-1", None)])
def test_a_page_past_the_last_or_not_a_number_shows_one_that_exists(
    content_pool, bot, reviewer, asked, lands
):
    many_incidents(bot, 27)

    response = logged_in(reviewer).get(f"{INCIDENTS}?p={asked}")

    if lands:
        assert response.status_code == 302 and response["Location"] == lands
    else:
        assert response.status_code == 200
        assert "Incidents 1 to 25 of 27" in response.content.decode()


def test_the_poll_of_the_first_page_does_not_call_the_second_pages_incidents_new(
    content_pool, bot, reviewer
):
    many_incidents(bot, 26)
    client = logged_in(reviewer)
    found = re.search(r'class="live-poll" hx-get="([^"]+)"', client.get(INCIDENTS).content.decode())
    address = found.group(1).replace("&amp;", "&")

    before = client.get(address).content.decode()
    WarmupPhaseFactory(
        in_review=True, bot=bot, category="login_failed", retryable=False, reason="Bad password"
    )
    after = client.get(address).content.decode()

    assert "new incident" not in before
    assert "1 new incident since you opened this page: show it" in after
