"""The review API's incidents: the open ones listed, the queue filtered to one, and a whole
incident resolved through the one resolution path under one batch id that undoes it."""

from io import StringIO

import pytest
from django.core.management import call_command

from tests.builders import reload
from tests.clients import REVIEWS, assert_error, user_client, view_only_user
from tests.factories import WarmupPhaseFactory
from tests.incidents import proxy_incident
from warmup.models import PhaseStatus
from warmup.services.accounts import account_pause

pytestmark = pytest.mark.django_db

INCIDENTS = f"{REVIEWS}incidents/"


@pytest.fixture
def items(content_pool, bot):
    proxies = proxy_incident(bot, 3)
    other = WarmupPhaseFactory(
        in_review=True, bot=bot, category="login_failed", retryable=False, reason="Bad password"
    )
    return {"proxies": proxies, "other": other, "signature": reload(proxies[0]).review_signature_id}


def test_the_open_incidents_are_listed_largest_first(items, reviewer_api, bot):
    response = reviewer_api.get(INCIDENTS)

    assert response.status_code == 200
    listed = response.json()
    assert [one["waiting"] for one in listed] == [3, 1]
    first = listed[0]
    assert first["signature"] == items["signature"]
    assert first["title"] == "proxy_error on profile_bio: Proxy <ip>:<port> refused the connection"
    assert first["category"] == "proxy_error"
    assert first["bots"] == [{"name": bot.name, "count": 3}]
    assert len(first["trend"]) == 24 and sum(first["trend"]) == 3  # its three failures


def test_a_viewer_may_list_incidents_but_not_resolve_one(items):
    client = user_client(view_only_user())
    assert client.get(INCIDENTS).status_code == 200
    response = client.post(
        f"{INCIDENTS}{items['signature']}/resolve/",
        {"action": "skip", "reason_code": "other", "note": "x"},
        format="json",
    )
    assert_error(response, 403, "permission_denied")
    assert reload(items["proxies"][0]).status == PhaseStatus.REVIEW_REQUIRED


def test_the_queue_takes_the_signature_filter_and_shows_each_items_signature(items, reviewer_api):
    response = reviewer_api.get(REVIEWS, {"signature": items["signature"]})

    assert response.status_code == 200
    results = response.json()["results"]
    assert {item["id"] for item in results} == {p.pk for p in items["proxies"]}
    assert {item["signature"] for item in results} == {items["signature"]}


@pytest.mark.parametrize("value", ["xyz", "0123", "g" * 16, "\x00" * 16])
def test_a_malformed_signature_filter_is_a_400(items, reviewer_api, value):
    response = reviewer_api.get(REVIEWS, {"signature": value})

    assert_error(response, 400, "validation_error")


def test_resolving_an_incident_answers_with_its_batch_and_what_it_refused(
    items, reviewer_api, reviewer_actor
):
    account_pause(account=items["proxies"][0].account, actor=reviewer_actor, note="checking")

    response = reviewer_api.post(
        f"{INCIDENTS}{items['signature']}/resolve/",
        {"action": "retry", "reason_code": "replaced_proxy", "note": "new pool"},
        format="json",
    )

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["resolved"] == 2
    assert answer["refused"] == {"account_not_active": 1}
    assert reload(items["proxies"][1]).status == PhaseStatus.CONTENT_ASSIGNED
    assert reload(items["proxies"][0]).status == PhaseStatus.REVIEW_REQUIRED
    assert reload(items["other"]).status == PhaseStatus.REVIEW_REQUIRED

    # the batch id is the one resolve_reviews --undo takes
    out = StringIO()
    call_command(
        "resolve_reviews",
        "--undo",
        answer["batch"],
        "--user",
        reviewer_actor.user.username,
        "--note",
        "wrong pool",
        stdout=out,
    )
    assert reload(items["proxies"][1]).status == PhaseStatus.REVIEW_REQUIRED


def test_an_unknown_incident_is_a_404_and_bad_input_a_400(items, reviewer_api):
    unknown = reviewer_api.post(
        f"{INCIDENTS}{'0' * 16}/resolve/",
        {"action": "skip", "reason_code": "other", "note": "x"},
        format="json",
    )
    assert_error(unknown, 404, "not_found")
    bad = reviewer_api.post(
        f"{INCIDENTS}{items['signature']}/resolve/", {"action": "explode"}, format="json"
    )
    assert_error(bad, 400, "validation_error")
    assert reload(items["proxies"][0]).status == PhaseStatus.REVIEW_REQUIRED


def test_resolve_reviews_selects_an_incident_by_signature(items, reviewer):
    out = StringIO()
    call_command(
        "resolve_reviews",
        "--signature",
        items["signature"],
        "--action",
        "skip",
        "--reason",
        "other",
        "--note",
        "noise",
        "--user",
        reviewer.username,
        stdout=out,
    )

    assert all(reload(p).status == PhaseStatus.COMPLETED for p in items["proxies"])
    assert reload(items["other"]).status == PhaseStatus.REVIEW_REQUIRED
