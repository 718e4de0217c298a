"""Account-level review events over the review API: pause and reactivate.

A suspended account (after an `account_suspended` failure) must have a way back: without one,
its phase could only be completed or skipped and its later phases would never be claimed.
"""

import pytest

from reviews.models import ReviewLog
from tests.clients import REVIEWS, assert_error, claim, review_url, user_client
from tests.factories import UserFactory, WarmupPhaseFactory
from warmup.domain.choices import ReviewAction
from warmup.models import AccountStatus


def account_action(account_id, action: str) -> str:
    return f"{REVIEWS}accounts/{account_id}/{action}/"


RESUME = {"action": "resume", "reason_code": "fixed_credentials", "note": "appeal accepted"}


@pytest.fixture
def reviewer(db):
    """Pausing and reactivating accounts is a review lead's job."""
    return UserFactory(lead=True)


def test_a_reviewer_who_is_not_a_lead_may_not_pause_or_reactivate(account):
    client = user_client(UserFactory(reviewer=True))

    for action in ("pause", "reactivate"):
        response = client.post(account_action(account.pk, action), {"note": "x"}, format="json")
        assert_error(response, 403, "permission_denied")
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert not ReviewLog.objects.exists()


def test_a_suspended_account_is_reactivated_then_its_phase_resumed(
    account, bot, reviewer, reviewer_api
):
    # given: a bot reported the account suspended; the phase is in review
    phase = WarmupPhaseFactory(
        account=account, bot=bot, in_review=True, category="account_suspended"
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    refused = reviewer_api.post(review_url(phase.pk, "resolve"), RESUME, format="json")
    assert_error(refused, 409, "account_not_active")

    # when: the reviewer reactivates the account, then resumes the phase
    response = reviewer_api.post(
        account_action(account.pk, "reactivate"), {"note": "appeal accepted"}, format="json"
    )
    resumed = reviewer_api.post(review_url(phase.pk, "resolve"), RESUME, format="json")

    # then
    assert response.status_code == 200
    assert response.json()["status"] == "active"
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "available"
    row = ReviewLog.objects.get(action=ReviewAction.ACCOUNT_REACTIVATED)
    assert (row.account_id, row.note, row.actor_user) == (account.pk, "appeal accepted", reviewer)


def test_a_paused_account_is_not_claimed_until_reactivated(account, bot, bot_api, reviewer_api):
    WarmupPhaseFactory(account=account, content_assigned=True)

    paused = reviewer_api.post(
        account_action(account.pk, "pause"), {"note": "owner asked to wait"}, format="json"
    )
    while_paused = claim(bot_api)
    reviewer_api.post(account_action(account.pk, "reactivate"), {"note": "go"}, format="json")
    after = claim(bot_api)

    assert paused.json()["status"] == "paused"
    assert while_paused.status_code == 204
    assert after.status_code == 200
    assert after.json()["account"]["id"] == account.pk
    assert list(
        ReviewLog.objects.filter(account=account).order_by("id").values_list("action", flat=True)
    ) == [ReviewAction.ACCOUNT_PAUSED, ReviewAction.ACCOUNT_REACTIVATED]


def test_reactivating_an_active_account_is_an_invalid_transition(account, reviewer_api):
    response = reviewer_api.post(
        account_action(account.pk, "reactivate"), {"note": "why not"}, format="json"
    )

    body = assert_error(response, 409, "invalid_transition")
    assert body["current_status"] == "active"
    assert not ReviewLog.objects.exists()


@pytest.mark.parametrize("action", ["pause", "reactivate"])
def test_a_note_is_required_and_nothing_is_written_without_one(account, reviewer_api, action):
    response = reviewer_api.post(account_action(account.pk, action), {"note": " "}, format="json")

    body = assert_error(response, 400, "validation_error")
    assert "note" in body["errors"]
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_unknown_account_is_404(db, reviewer_api):
    response = reviewer_api.post(account_action(999999, "pause"), {"note": "x"}, format="json")

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("action", ["pause", "reactivate"])
def test_permissions_anonymous_401_staff_without_permission_403(account, anon, viewer, action):
    url = account_action(account.pk, action)

    assert_error(anon.post(url, {"note": "x"}, format="json"), 401, "not_authenticated")
    assert_error(
        user_client(UserFactory()).post(url, {"note": "x"}, format="json"),
        403,
        "permission_denied",
    )
    assert_error(
        user_client(viewer).post(url, {"note": "x"}, format="json"), 403, "permission_denied"
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
