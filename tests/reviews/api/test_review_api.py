"""The review API over HTTP: the queue and its filters, an item's history, the actions,
statistics, and who may do what."""

import statistics
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from reviews.models import ReviewLog
from tests.builders import reload
from tests.clients import (
    HOLD,
    REVIEWS,
    STATS,
    assert_error,
    bot_client,
    claim,
    report,
    review_url,
    user_client,
    view_only_user,
)
from tests.factories import (
    AccountFactory,
    BotFactory,
    UserFactory,
    WarmupPhaseFactory,
    api_token_key,
)
from warmup.domain.errors import ASSIGNEE_CANNOT_RESOLVE
from warmup.models import PhaseStatus, WarmupPhase
from warmup.services.bot_work import phase_claim, phase_complete, phase_fail
from warmup.services.tick import tick

RESOLUTION = {"reason_code": "solved_challenge", "note": "Entered the SMS code by hand."}


def to_review(bot, *, category="challenge_required", **account) -> WarmupPhase:
    """A new account whose first phase `bot` claimed and failed into the review queue."""
    account = AccountFactory(**account)
    tick()
    phase = phase_claim(bot=bot)
    assert phase.account_id == account.pk
    phase_fail(
        phase_id=phase.pk,
        bot=bot,
        lease_token=phase.lease_token,
        category=category,
        reason=f"{category} on {account}",
        details={"username": account.username},
        retryable=False,
    )
    phase = reload(phase)
    assert phase.status == PhaseStatus.REVIEW_REQUIRED
    return phase


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def log_rows(phase) -> list[str]:
    return list(
        ReviewLog.objects.filter(phase_id=phase.pk).order_by("id").values_list("action", flat=True)
    )


def resolve(client, phase, action, **body):
    return client.post(review_url(phase.pk, "resolve"), {"action": action, **body}, format="json")


# --- The queue -------------------------------------------------------------------------------


def test_the_queue_lists_items_in_review_with_their_failure(content_pool, bot, reviewer_api):
    phase = to_review(bot, platform="tiktok")
    AccountFactory()  # an account not in review is not in the queue
    tick()

    response = reviewer_api.get(REVIEWS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    [item] = body["results"]
    assert item["id"] == phase.pk
    assert item["status"] == "review_required"
    assert item["account"]["platform"] == "tiktok"
    assert item["failure"]["category"] == "challenge_required"
    assert item["failure"]["details"] == {"username": phase.account.username}
    assert item["bot"] == bot.name
    assert item["escalation_level"] == 0
    assert item["assignee"] is None
    assert parse_datetime(item["review_required_since"]) == phase.review_required_since


def test_the_queue_is_ordered_by_escalation_level_then_oldest_first(
    content_pool, bot, reviewer_api, clock
):
    start = timezone.now()
    # given: an item an hour in review (level 1 after a tick), two younger ones (level 0)
    oldest = to_review(bot)
    clock.shift(timedelta(minutes=5))
    younger = to_review(bot)
    clock.shift(timedelta(minutes=57))
    tick()
    assert (reload(oldest).escalation_level, reload(younger).escalation_level) == (1, 0)
    youngest = to_review(bot)
    # ... and one that entered review before all of them but was not escalated yet
    clock.move_to(start - timedelta(minutes=30))
    ancient = to_review(bot)
    clock.move_to(start + timedelta(hours=1, minutes=3))

    response = reviewer_api.get(REVIEWS)

    # then: the escalated item first, then the rest oldest first
    assert ids(response) == [oldest.pk, ancient.pk, younger.pk, youngest.pk]
    assert [i["escalation_level"] for i in response.json()["results"]] == [1, 0, 0, 0]


def test_the_queue_is_paginated(content_pool, bot, reviewer_api):
    phases = [to_review(bot) for _ in range(5)]

    first = reviewer_api.get(REVIEWS, {"page_size": 2})
    third = reviewer_api.get(REVIEWS, {"page_size": 2, "page": 3})

    assert first.json()["count"] == 5
    assert ids(first) == [p.pk for p in phases[:2]]
    assert first.json()["previous"] is None
    assert "page=2" in first.json()["next"]
    assert ids(third) == [phases[4].pk]
    assert third.json()["next"] is None


# --- Filters ---------------------------------------------------------------------------------


@pytest.fixture
def queue(content_pool, bot, other_bot, reviewer, clock):
    """Items that differ in one attribute each, for the filters."""
    # An avatar (second phase) in review: complete the bio, wait out the delay, fail.
    AccountFactory(platform="x")
    tick()
    bio = phase_claim(bot=bot)
    phase_complete(phase_id=bio.pk, bot=bot, lease_token=bio.lease_token)
    clock.shift(timedelta(hours=6, seconds=1))
    tick()
    avatar = phase_claim(bot=bot)
    assert avatar.phase_type == "avatar"
    phase_fail(
        phase_id=avatar.pk,
        bot=bot,
        lease_token=avatar.lease_token,
        category="content_rejected",
        reason="avatar rejected",
    )
    clock.shift(timedelta(hours=1, minutes=1))
    tick()  # the avatar item rises to escalation level 1

    items = {
        "avatar": reload(avatar),
        "login": to_review(bot, category="login_failed", platform="instagram"),
        "other_bot": to_review(other_bot, platform="tiktok"),
        "assigned": to_review(bot, platform="instagram"),
    }
    clock.shift(timedelta(minutes=10))
    items["fresh"] = to_review(bot, platform="youtube")
    WarmupPhase.objects.filter(pk=items["assigned"].pk).update(review_assignee=reviewer)
    return items


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, ["avatar", "login", "other_bot", "assigned", "fresh"]),
        ({"category": "login_failed"}, ["login"]),
        ({"category": "content_rejected"}, ["avatar"]),
        ({"category": "proxy_error"}, []),
        ({"phase_type": "avatar"}, ["avatar"]),
        ({"phase_type": "profile_bio"}, ["login", "other_bot", "assigned", "fresh"]),
        ({"platform": "instagram"}, ["login", "assigned"]),
        ({"platform": "facebook"}, []),
        ({"escalation_level": 1}, ["avatar"]),
        ({"escalation_level": 0}, ["login", "other_bot", "assigned", "fresh"]),
        ({"assignee": "me"}, ["assigned"]),
        ({"assignee": "none"}, ["avatar", "login", "other_bot", "fresh"]),
        ({"waiting": "5m"}, ["avatar", "login", "other_bot", "assigned"]),
        ({"waiting": "1h"}, ["avatar"]),
        ({"waiting": "0m"}, ["avatar", "login", "other_bot", "assigned", "fresh"]),
        ({"waiting": "3650d"}, []),
        # Deprecated: seconds, as `waiting` was first written.
        ({"min_age": 300}, ["avatar", "login", "other_bot", "assigned"]),
        ({"min_age": 3600}, ["avatar"]),
        ({"category": "challenge_required", "platform": "instagram"}, ["assigned"]),
        ({"platform": "instagram", "assignee": "none"}, ["login"]),
    ],
)
def test_queue_filters(queue, reviewer_api, query, expected):
    response = reviewer_api.get(REVIEWS, query)

    assert ids(response) == [queue[name].pk for name in expected]


def test_filter_by_assignee_id(queue, reviewer, reviewer_api):
    other = UserFactory(reviewer=True)

    assert ids(reviewer_api.get(REVIEWS, {"assignee": reviewer.pk})) == [queue["assigned"].pk]
    assert ids(reviewer_api.get(REVIEWS, {"assignee": other.pk})) == []
    # "me" is whoever asks.
    assert ids(user_client(other).get(REVIEWS, {"assignee": "me"})) == []


def test_filter_by_bot_id_or_name(queue, bot, other_bot, reviewer_api):
    mine = [queue[n].pk for n in ("avatar", "login", "assigned", "fresh")]

    assert ids(reviewer_api.get(REVIEWS, {"bot": other_bot.pk})) == [queue["other_bot"].pk]
    assert ids(reviewer_api.get(REVIEWS, {"bot": other_bot.name})) == [queue["other_bot"].pk]
    assert ids(reviewer_api.get(REVIEWS, {"bot": bot.name})) == mine
    assert ids(reviewer_api.get(REVIEWS, {"bot": "no-such-bot"})) == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("category", "gremlins"),
        ("platform", "myspace"),
        ("escalation_level", "high"),
        ("escalation_level", "-1"),
        ("escalation_level", "1.5"),
        ("assignee", "x" * 151),  # longer than any username
        ("waiting", "soon"),
        ("waiting", "-5m"),
        ("waiting", "1.5h"),
        ("waiting", "90"),
        ("min_age", "soon"),
        ("min_age", "-5"),
        ("min_age", "1e400"),
        ("page_size", "x"),
    ],
)
def test_invalid_filter_values_are_400(reviewer_api, db, field, value):
    response = reviewer_api.get(REVIEWS, {field: value})

    if field == "page_size":
        # DRF ignores a page size it cannot read and uses the default.
        assert response.status_code == 200
        return
    body = assert_error(response, 400, "validation_error")
    assert field in body["errors"]


# --- One item ------------------------------------------------------------------------------


def test_an_item_shows_its_attempts_and_review_log(content_pool, bot, reviewer_api, clock):
    # given: two network errors retried, then a challenge escalates
    account = AccountFactory(platform="instagram")
    phase = WarmupPhaseFactory(account=account, content_assigned=True)
    for number in (1, 2):
        claimed = phase_claim(bot=bot)
        phase_fail(
            phase_id=phase.pk,
            bot=bot,
            lease_token=claimed.lease_token,
            category="network_error",
            reason=f"timeout {number}",
        )
        clock.move_to(reload(phase).next_attempt_at)
    claimed = phase_claim(bot=bot)
    phase_fail(
        phase_id=phase.pk,
        bot=bot,
        lease_token=claimed.lease_token,
        category="challenge_required",
        reason="SMS code",
        details={"challenge": "sms"},
    )
    reviewer_api.post(review_url(phase.pk, "comment"), {"note": "on it"}, format="json")

    response = reviewer_api.get(review_url(phase.pk))

    assert response.status_code == 200
    item = response.json()
    assert item["id"] == phase.pk
    assert item["attempt_count"] == 3
    assert item["retry_count"] == 2
    attempts = item["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert [a["failure_category"] for a in attempts] == [
        "network_error",
        "network_error",
        "challenge_required",
    ]
    assert [a["decision"] for a in attempts] == [
        "retry_scheduled",
        "retry_scheduled",
        "review_required",
    ]
    assert attempts[2]["details"] == {"challenge": "sms"}
    assert {a["bot"] for a in attempts} == {bot.name}
    log = item["review_log"]
    assert [row["action"] for row in log] == ["escalated", "commented"]
    assert log[0]["actor"] == bot.name and log[0]["actor_type"] == "bot"
    assert (log[0]["from_status"], log[0]["to_status"]) == ("in_progress", "review_required")
    assert log[1]["note"] == "on it" and log[1]["actor_type"] == "user"


def test_any_phase_can_be_read_by_id(account, reviewer_api):
    phase = WarmupPhaseFactory(account=account, content_assigned=True)

    response = reviewer_api.get(review_url(phase.pk))

    assert response.status_code == 200
    assert response.json()["status"] == "content_assigned"
    assert response.json()["attempts"] == []


# --- Resolutions ---------------------------------------------------------------------------


@pytest.fixture
def item(content_pool, bot):
    return to_review(bot)


def test_resume_hands_the_phase_back_to_automation(item, bot, reviewer_api, reviewer):
    response = resolve(reviewer_api, item, "resume", **RESOLUTION)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "available"
    assert body["retry_count"] == 0
    assert body["content"] is None  # re-assigned by the scheduler
    assert body["review_required_since"] is None
    row = ReviewLog.objects.get(phase_id=item.pk, action="resumed")
    assert (row.reason_code, row.note, row.actor_user_id) == (
        "solved_challenge",
        RESOLUTION["note"],
        reviewer.pk,
    )
    assert row.time_in_review is not None
    # The scheduler gives it content and a bot can claim it again.
    tick()
    again = claim(bot_client(bot))
    assert again.status_code == 200
    assert again.json()["id"] == item.pk
    assert again.json()["attempt"] == 2


def test_retry_makes_the_phase_claimable_now_with_the_same_content(item, bot, reviewer_api):
    response = resolve(reviewer_api, item, "retry", **RESOLUTION)

    assert response.status_code == 200
    assert response.json()["status"] == "content_assigned"
    assert response.json()["content"]["id"] == item.content_id
    again = claim(bot_client(bot))
    assert again.json()["id"] == item.pk
    assert again.json()["content"]["id"] == item.content_id
    assert log_rows(item) == ["escalated", "retried"]


@pytest.mark.parametrize("action, method", [("complete", "manual"), ("skip", "skipped")])
def test_complete_and_skip_finish_the_phase(item, reviewer_api, clock, action, method):
    response = resolve(reviewer_api, item, action, **RESOLUTION)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert body["completion_method"] == method
    assert parse_datetime(body["completed_at"]) == timezone.now()
    # The plan goes on: the next phase unlocks after its delay.
    following = item.account.phases.get(order=2)
    assert following.status == PhaseStatus.PENDING
    assert following.available_at == timezone.now() + timedelta(hours=6)
    assert log_rows(item) == ["escalated", {"complete": "completed", "skip": "skipped"}[action]]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"note": "fixed it"}, "reason_code"),
        ({"reason_code": "solved_challenge"}, "note"),
        ({"reason_code": "solved_challenge", "note": "   "}, "note"),
        ({"reason_code": "because", "note": "fixed it"}, "reason_code"),
        ({"reason_code": "", "note": "fixed it"}, "reason_code"),
        ({"reason_code": None, "note": "fixed it"}, "reason_code"),
    ],
)
def test_a_resolution_needs_a_reason_code_and_a_note(item, reviewer_api, body, field):
    before = WarmupPhase.objects.filter(pk=item.pk).values().get()

    response = resolve(reviewer_api, item, "resume", **body)

    assert field in assert_error(response, 400, "validation_error")["errors"]
    assert WarmupPhase.objects.filter(pk=item.pk).values().get() == before
    assert log_rows(item) == ["escalated"]


@pytest.mark.parametrize("action", ["", "restart", None])
def test_an_unknown_action_is_400(item, reviewer_api, action):
    response = resolve(reviewer_api, item, action, **RESOLUTION)

    assert "action" in assert_error(response, 400, "validation_error")["errors"]
    assert log_rows(item) == ["escalated"]


def test_a_resolved_item_cannot_be_resolved_again(item, reviewer_api):
    assert resolve(reviewer_api, item, "skip", **RESOLUTION).status_code == 200

    response = resolve(reviewer_api, item, "resume", **RESOLUTION)

    assert assert_error(response, 409, "invalid_transition")["current_status"] == "completed"
    assert log_rows(item) == ["escalated", "skipped"]


def test_a_suspended_account_is_not_resumed(content_pool, bot, reviewer_api):
    item = to_review(bot, category="account_suspended")

    response = resolve(reviewer_api, item, "resume", **RESOLUTION)

    assert_error(response, 409, "account_not_active")
    assert reload(item).status == PhaseStatus.REVIEW_REQUIRED
    # Skipping does not need an active account.
    assert resolve(reviewer_api, item, "skip", **RESOLUTION).status_code == 200


# --- Assign, comment, recategorise ----------------------------------------------------------


def test_assign_defaults_to_the_caller(item, reviewer, reviewer_api):
    response = reviewer_api.post(review_url(item.pk, "assign"), {}, format="json")

    assert response.status_code == 200
    assert response.json()["assignee"] == {"id": reviewer.pk, "username": reviewer.username}
    assert reload(item).review_assignee_id == reviewer.pk
    assert log_rows(item) == ["escalated", "assigned"]


def test_a_lead_assigns_to_someone_else_then_a_reviewer_unassigns(item, reviewer_api):
    colleague = UserFactory(reviewer=True)
    lead_api = user_client(UserFactory(lead=True))

    assigned = lead_api.post(review_url(item.pk, "assign"), {"user": colleague.pk}, format="json")
    unassigned = reviewer_api.post(review_url(item.pk, "assign"), {"user": None}, format="json")

    assert assigned.json()["assignee"]["id"] == colleague.pk
    assert unassigned.status_code == 200
    assert unassigned.json()["assignee"] is None
    assert reload(item).review_assignee_id is None
    assert log_rows(item) == ["escalated", "assigned", "unassigned"]


@pytest.mark.parametrize("user", [999_999, "bob", True, -1])
def test_assign_to_an_unknown_user_is_400(item, reviewer_api, user):
    response = reviewer_api.post(review_url(item.pk, "assign"), {"user": user}, format="json")

    assert "user" in assert_error(response, 400, "validation_error")["errors"]
    assert log_rows(item) == ["escalated"]


def test_assign_to_an_inactive_user_is_400(item, reviewer_api):
    gone = UserFactory(reviewer=True, is_active=False)

    response = reviewer_api.post(review_url(item.pk, "assign"), {"user": gone.pk}, format="json")

    assert_error(response, 400, "validation_error")


def test_a_reviewer_may_not_assign_to_someone_else_as_in_the_console(item, reviewer_api):
    colleague = UserFactory(reviewer=True)

    response = reviewer_api.post(
        review_url(item.pk, "assign"), {"user": colleague.pk}, format="json"
    )

    body = assert_error(response, 403, "permission_denied")
    assert "review lead" in body["detail"]
    assert reload(item).review_assignee_id is None
    assert log_rows(item) == ["escalated"]


def test_assign_to_someone_who_cannot_resolve_is_400_and_changes_nothing(item):
    reader = UserFactory()  # staff, but without the review permission
    lead_api = user_client(UserFactory(lead=True))

    response = lead_api.post(review_url(item.pk, "assign"), {"user": reader.pk}, format="json")

    body = assert_error(response, 400, "validation_error")
    assert body["errors"] == {"user": [ASSIGNEE_CANNOT_RESOLVE.format(user=reader)]}
    assert reload(item).review_assignee_id is None
    assert log_rows(item) == ["escalated"]


def test_comment_adds_a_note_to_the_log(item, reviewer, reviewer_api):
    response = reviewer_api.post(
        review_url(item.pk, "comment"), {"note": "Waiting for the owner."}, format="json"
    )

    assert response.status_code == 200
    row = ReviewLog.objects.get(phase_id=item.pk, action="commented")
    assert (row.note, row.actor_user_id) == ("Waiting for the owner.", reviewer.pk)
    assert reload(item).status == PhaseStatus.REVIEW_REQUIRED


@pytest.mark.parametrize("body", [{}, {"note": ""}, {"note": "  \n "}])
def test_a_comment_needs_a_note(item, reviewer_api, body):
    response = reviewer_api.post(review_url(item.pk, "comment"), body, format="json")

    assert "note" in assert_error(response, 400, "validation_error")["errors"]
    assert log_rows(item) == ["escalated"]


def test_recategorize_corrects_the_category(item, reviewer_api):
    response = reviewer_api.post(
        review_url(item.pk, "recategorize"),
        {"category": "login_failed", "note": "It was the password, not a challenge."},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["failure"]["category"] == "login_failed"
    row = ReviewLog.objects.get(phase_id=item.pk, action="recategorized")
    assert row.data == {"from": "challenge_required", "to": "login_failed"}
    stats = reviewer_api.get(STATS).json()
    assert stats["queue"]["by_category"] == {"login_failed": 1}
    filtered = reviewer_api.get(REVIEWS, {"category": "login_failed"})
    assert ids(filtered) == [item.pk]


def test_recategorize_needs_a_note(item, reviewer_api):
    response = reviewer_api.post(
        review_url(item.pk, "recategorize"), {"category": "login_failed"}, format="json"
    )

    assert "note" in assert_error(response, 400, "validation_error")["errors"]
    assert reload(item).last_failure_category == "challenge_required"


@pytest.mark.parametrize(
    "action, body",
    [
        ("assign", {}),
        ("recategorize", {"category": "login_failed", "note": "n"}),
        ("resolve", {"action": "retry", **RESOLUTION}),
    ],
)
def test_queue_actions_on_an_item_not_in_review_are_409(account, reviewer_api, action, body):
    phase = WarmupPhaseFactory(account=account, content_assigned=True)

    response = reviewer_api.post(review_url(phase.pk, action), body, format="json")

    body = assert_error(response, 409, "invalid_transition")
    assert body["current_status"] == "content_assigned"
    assert log_rows(phase) == []


# --- Hold ------------------------------------------------------------------------------------


def test_hold_of_an_in_progress_phase_makes_the_bots_lease_stale(account, bot, reviewer_api):
    bot_api = bot_client(bot)
    WarmupPhaseFactory(account=account, content_assigned=True)
    claimed = claim(bot_api).json()

    response = reviewer_api.post(
        HOLD, {"phase": claimed["id"], "note": "Wrong content queued"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "review_required"
    assert response.json()["id"] == claimed["id"]
    for action, body in [
        ("heartbeat", {}),
        ("complete", {}),
        ("fail", {"category": "network_error", "reason": "late"}),
    ]:
        late = report(bot_api, claimed["id"], action, lease_token=claimed["lease_token"], **body)
        assert assert_error(late, 409, "lease_lost")["current_status"] == "review_required"
    phase = reload(account.phases.get(order=1))
    assert phase.status == PhaseStatus.REVIEW_REQUIRED
    assert phase.attempts.get().outcome == "interrupted"
    assert log_rows(phase) == ["held"]


def test_hold_of_a_waiting_phase(account, reviewer_api):
    phase = WarmupPhaseFactory(account=account, content_assigned=True)

    response = reviewer_api.post(HOLD, {"phase": phase.pk, "note": "check first"}, format="json")

    assert response.status_code == 200
    assert reload(phase).status == PhaseStatus.REVIEW_REQUIRED
    assert claim(bot_client(BotFactory())).status_code == 204


@pytest.mark.parametrize(
    "body, field",
    [
        ({"note": "n"}, "phase"),
        ({"phase": "abc", "note": "n"}, "phase"),
        ({"phase": 0, "note": "n"}, "phase"),
        ({"phase": 2**63, "note": "n"}, "phase"),
        ({"phase": None, "note": "n"}, "phase"),
    ],
)
def test_hold_input_is_validated(account, reviewer_api, body, field):
    response = reviewer_api.post(HOLD, body, format="json")

    assert field in assert_error(response, 400, "validation_error")["errors"]


def test_hold_needs_a_note(account, reviewer_api):
    phase = WarmupPhaseFactory(account=account, content_assigned=True)

    response = reviewer_api.post(HOLD, {"phase": phase.pk, "note": " "}, format="json")

    assert "note" in assert_error(response, 400, "validation_error")["errors"]
    assert reload(phase).status == PhaseStatus.CONTENT_ASSIGNED


def test_hold_of_an_item_already_in_review_is_409(item, reviewer_api):
    response = reviewer_api.post(HOLD, {"phase": item.pk, "note": "again"}, format="json")

    assert assert_error(response, 409, "invalid_transition")["current_status"] == (
        "review_required"
    )


# --- Stats -----------------------------------------------------------------------------------


def test_stats_queue_depth_by_category_and_level(content_pool, bot, reviewer_api, clock):
    to_review(bot, category="login_failed")
    clock.shift(timedelta(hours=1, minutes=1))
    tick()  # the first item reaches level 1
    to_review(bot, category="login_failed")
    to_review(bot, category="content_rejected")

    queue = reviewer_api.get(STATS).json()["queue"]

    assert queue["total"] == 3
    assert queue["by_category"] == {"login_failed": 2, "content_rejected": 1}
    assert queue["by_escalation_level"] == {"1": 1, "0": 2}


def test_stats_time_in_review(content_pool, bot, reviewer_api, clock):
    waits = [100, 200, 300, 400, 1000]
    for seconds in waits:
        item = to_review(bot)
        clock.shift(timedelta(seconds=seconds))
        assert resolve(reviewer_api, item, "skip", **RESOLUTION).status_code == 200

    time_in_review = reviewer_api.get(STATS).json()["time_in_review"]

    assert time_in_review["resolved"] == 5
    assert time_in_review["median_seconds"] == 300
    # p90 by linear interpolation between the 4th and 5th values: 400 + 0.6 * 600.
    assert time_in_review["p90_seconds"] == pytest.approx(760)
    assert time_in_review["p90_seconds"] == pytest.approx(
        statistics.quantiles(waits, n=10, method="inclusive")[8]
    )


def test_stats_with_an_empty_history(reviewer_api, db):
    stats = reviewer_api.get(STATS).json()

    assert stats["queue"] == {"total": 0, "by_category": {}, "by_escalation_level": {}}
    assert stats["time_in_review"] == {"resolved": 0, "median_seconds": None, "p90_seconds": None}
    assert stats["resolutions"]["resume"]["count"] == 0
    assert stats["resolutions"]["resume"]["success_rate"] is None


def test_stats_resolutions_by_method_with_success_rates(content_pool, bot, reviewer_api, clock):
    bot_api = bot_client(bot)
    # given: a resume the bot later completes (success) ...
    good = to_review(bot)
    resolve(reviewer_api, good, "resume", **RESOLUTION)
    tick()
    body = claim(bot_api).json()
    assert body["id"] == good.pk
    assert report(bot_api, good.pk, "complete", lease_token=body["lease_token"]).status_code == 200
    # ... a retry that came back to review (failed) ...
    bad = to_review(bot)
    resolve(reviewer_api, bad, "retry", **RESOLUTION)
    body = claim(bot_api).json()
    assert body["id"] == bad.pk
    report(
        bot_api,
        bad.pk,
        "fail",
        lease_token=body["lease_token"],
        category="challenge_required",
        reason="again",
    )
    # ... a retry nobody claimed yet (pending), and a skip
    pending = to_review(bot)
    skipped = to_review(bot)
    resolve(reviewer_api, pending, "retry", **RESOLUTION)
    clock.shift(timedelta(seconds=1))
    resolve(reviewer_api, skipped, "skip", **RESOLUTION)

    resolutions = reviewer_api.get(STATS).json()["resolutions"]

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
    assert resolutions["skip"]["count"] == 1
    assert resolutions["skip"]["success_rate"] is None
    assert resolutions["complete"]["count"] == 0


def test_a_resume_that_returned_to_review_then_completed_still_counts_as_failed(
    content_pool, bot, reviewer_api
):
    bot_api = bot_client(bot)
    item = to_review(bot)
    resolve(reviewer_api, item, "resume", **RESOLUTION)
    tick()
    body = claim(bot_api).json()
    report(
        bot_api,
        item.pk,
        "fail",
        lease_token=body["lease_token"],
        category="login_failed",
        reason="again",
    )
    # A second resume, and this time the bot succeeds.
    resolve(reviewer_api, item, "resume", **RESOLUTION)
    tick()
    body = claim(bot_api).json()
    report(bot_api, item.pk, "complete", lease_token=body["lease_token"])

    resume = reviewer_api.get(STATS).json()["resolutions"]["resume"]

    assert (resume["count"], resume["success"], resume["failed"]) == (2, 1, 1)
    assert resume["success_rate"] == 0.5


def test_stats_since(content_pool, bot, reviewer_api, clock):
    early = to_review(bot)
    resolve(reviewer_api, early, "skip", **RESOLUTION)
    clock.shift(timedelta(hours=5))  # less than the avatar's delay: nothing else to claim
    since = timezone.now()
    late = to_review(bot)
    clock.shift(timedelta(minutes=3))
    resolve(reviewer_api, late, "complete", **RESOLUTION)
    to_review(bot)  # still in the queue: depth is always "now"

    stats = reviewer_api.get(STATS, {"since": since.isoformat()}).json()

    assert parse_datetime(stats["since"]) == since
    assert stats["resolutions"]["skip"]["count"] == 0
    assert stats["resolutions"]["complete"]["count"] == 1
    assert stats["time_in_review"] == {
        "resolved": 1,
        "median_seconds": 180,
        "p90_seconds": 180,
    }
    assert stats["queue"]["total"] == 1
    everything = reviewer_api.get(STATS).json()
    assert everything["resolutions"]["skip"]["count"] == 1
    assert everything["since"] is None


@pytest.mark.parametrize("since", ["yesterday", "2024-13-45", "9" * 40])
def test_stats_since_must_be_a_date_time(reviewer_api, db, since):
    response = reviewer_api.get(STATS, {"since": since})

    assert "since" in assert_error(response, 400, "validation_error")["errors"]


# --- Who may do what -------------------------------------------------------------------------


@pytest.fixture
def endpoints(content_pool, bot):
    """Every review endpoint: name -> (method, url, body, kind); a fresh item for each action."""
    item = to_review(bot)
    waiting = WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    return {
        "queue": ("get", REVIEWS, None, "read"),
        "item": ("get", review_url(item.pk), None, "read"),
        "stats": ("get", STATS, None, "read"),
        "resolve": (
            "post",
            review_url(item.pk, "resolve"),
            {"action": "skip", **RESOLUTION},
            "act",
        ),
        "assign": ("post", review_url(item.pk, "assign"), {}, "act"),
        "comment": ("post", review_url(item.pk, "comment"), {"note": "n"}, "act"),
        "recategorize": (
            "post",
            review_url(item.pk, "recategorize"),
            {"category": "login_failed", "note": "n"},
            "act",
        ),
        "hold": ("post", HOLD, {"phase": waiting.pk, "note": "n"}, "act"),
    }


ENDPOINTS = ["queue", "item", "stats", "resolve", "assign", "comment", "recategorize", "hold"]


def client_for(role: str, auth: str | None) -> APIClient:
    if role == "anonymous":
        return APIClient()
    user = {
        "staff": lambda: UserFactory(),  # staff, but no review permission
        "viewer": view_only_user,
        "reviewer": lambda: UserFactory(reviewer=True),
        "superuser": lambda: UserFactory(is_superuser=True),
    }[role]()
    if auth == "session":
        return user_client(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_key(user)}")
    return client


EXPECTED = {
    # role: (status for reads, status for actions)
    "anonymous": (401, 401),
    "staff": (403, 403),
    "viewer": (200, 403),
    "reviewer": (200, 200),
    "superuser": (200, 200),
}


CALLERS = [("anonymous", None)] + [
    (role, auth) for role in list(EXPECTED)[1:] for auth in ("session", "token")
]


@pytest.mark.parametrize("role, auth", CALLERS)
@pytest.mark.parametrize("name", ENDPOINTS)
def test_permission_matrix(endpoints, name, role, auth):
    method, url, body, kind = endpoints[name]
    client = client_for(role, auth)
    rows_before = ReviewLog.objects.count()

    response = (
        getattr(client, method)(url, body, format="json")
        if body is not None
        else (getattr(client, method)(url))
    )

    expected = EXPECTED[role][0 if kind == "read" else 1]
    if expected == 200:
        assert response.status_code == 200, response.content
    else:
        code = {401: "not_authenticated", 403: "permission_denied"}[expected]
        assert_error(response, expected, code)
        assert ReviewLog.objects.count() == rows_before  # a refused action writes nothing
    if expected == 401:
        assert response["WWW-Authenticate"] == "Bearer"


def test_a_wrong_api_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    assert_error(client.get(REVIEWS), 401, "authentication_failed")


def test_a_bot_token_does_not_open_the_review_api(bot):
    # Both send "Bearer"; a bot's token is not a reviewer's.
    assert_error(bot_client(bot).get(REVIEWS), 401, "authentication_failed")


def test_a_deactivated_user_is_refused(db):
    user = UserFactory(reviewer=True)
    key = api_token_key(user)
    user.is_active = False
    user.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert_error(client.get(REVIEWS), 401, "authentication_failed")
