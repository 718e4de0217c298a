"""The bot API over HTTP: claim, heartbeat, complete, fail, reads; leases, replays,
authentication, last_seen_at and throttling, as a bot observes them."""

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from reviews.models import ReviewLog
from tests.builders import first_phase, reload
from tests.clients import (
    CLAIM,
    account_url,
    assert_error,
    bot_client,
    claim,
    phase_url,
    report,
    user_client,
)
from tests.factories import AccountFactory, BotFactory, WarmupPhaseFactory
from tools.demo import FAST_PLAN
from tools.demo.fixtures import ensure_fast_plan
from warmup.models import Bot, PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.services.bots import bot_deactivate, bot_rotate_token
from warmup.services.tick import tick

LEASE = timedelta(minutes=10)  # the default plan's first step (profile_bio)
PHASE_FIELDS = {
    "id",
    "status",
    "phase_type",
    "order",
    "account",
    "content",
    "attempt",
    "retry_count",
    "lease_token",
    "lease_expires_at",
}
OUTCOME_FIELDS = {
    "outcome",
    "status",
    "retry_count",
    "max_retries",
    "next_attempt_at",
    "review_required_since",
    "failure",
}


def at(value: str):
    return parse_datetime(value)


def claimed(client, **filters) -> dict:
    response = claim(client, **filters)
    assert response.status_code == 200, response.content
    return response.json()


def ready(account) -> WarmupPhase:
    """The account's first phase, content assigned and claimable now."""
    return WarmupPhaseFactory(account=account, content_assigned=True)


def snapshot(phase) -> dict:
    """What a report must not change: the phase row, its attempts, the review log."""
    return {
        "phase": WarmupPhase.objects.filter(pk=phase.pk).values().get(),
        "attempts": list(PhaseAttempt.objects.filter(phase_id=phase.pk).values().order_by("id")),
        "log": ReviewLog.objects.filter(phase_id=phase.pk).count(),
    }


@pytest.fixture
def held(account, bot_api) -> dict:
    """The account's first phase, made ready and claimed by `bot` over the API: the claim's
    answer (id, lease_token, lease_expires_at, ...)."""
    ready(account)
    return claimed(bot_api)


def on_lease(client, held: dict, action: str, **body):
    """POST a heartbeat / complete / fail report on the phase `held`, under its lease."""
    return report(client, held["id"], action, lease_token=held["lease_token"], **body)


# --- Claim ---------------------------------------------------------------------------------


def test_claim_hands_out_the_ready_phase_under_a_lease(account, bot, bot_api, clock):
    phase = ready(account)

    response = claim(bot_api)

    assert response.status_code == 200
    body = response.json()
    assert PHASE_FIELDS <= set(body)
    assert body["id"] == phase.pk
    assert body["status"] == "in_progress"
    assert body["phase_type"] == "profile_bio"
    assert body["order"] == 1
    assert body["account"] == {
        "id": account.pk,
        "platform": account.platform,
        "username": account.username,
    }
    assert body["content"]["id"] == phase.content_id
    assert body["content"]["title"] == phase.content.title
    assert body["attempt"] == 1
    assert body["retry_count"] == 0
    assert uuid.UUID(body["lease_token"])
    assert at(body["lease_expires_at"]) == timezone.now() + LEASE
    stored = reload(phase)
    assert stored.status == PhaseStatus.IN_PROGRESS
    assert stored.bot_id == bot.pk
    assert str(stored.lease_token) == body["lease_token"]


def test_claim_answers_204_with_no_body_when_nothing_is_ready(account, bot_api):
    # The account's first phase is available but has no content yet (no tick ran).
    response = claim(bot_api)

    assert response.status_code == 204
    assert response.content == b""


def test_claim_without_a_body_works(account, bot_api):
    ready(account)

    response = bot_api.post(CLAIM)

    assert response.status_code == 200


def test_a_phase_is_claimed_once(account, bot_api, other_bot_api):
    ready(account)
    claimed(bot_api)

    assert claim(other_bot_api).status_code == 204


def test_claim_by_platform(content_pool, bot_api):
    tiktok = AccountFactory(platform="tiktok")
    instagram = AccountFactory(platform="instagram")
    tick()

    assert claim(bot_api, platforms=["youtube"]).status_code == 204
    body = claimed(bot_api, platforms=["tiktok"])
    assert body["account"]["id"] == tiktok.pk
    body = claimed(bot_api, platforms=["x", "instagram"])
    assert body["account"]["id"] == instagram.pk
    assert claim(bot_api, platforms=["tiktok", "instagram"]).status_code == 204


def test_claim_by_phase_type(account, bot_api):
    ready(account)

    assert claim(bot_api, phase_types=["avatar", "first_post"]).status_code == 204
    body = claimed(bot_api, phase_types=["avatar", "profile_bio"])
    assert body["phase_type"] == "profile_bio"


def test_claim_by_plan(content_pool, bot_api):
    real = AccountFactory()
    simulated = AccountFactory(plan=ensure_fast_plan())
    tick()

    assert claim(bot_api, plans=["no-such-plan"]).status_code == 204
    body = claimed(bot_api, plans=[FAST_PLAN])
    assert body["account"]["id"] == simulated.pk
    assert claim(bot_api, plans=[FAST_PLAN]).status_code == 204
    assert claimed(bot_api, plans=[FAST_PLAN, "default"])["account"]["id"] == real.pk


def test_a_plan_filter_that_is_not_a_slug_is_a_400(bot_api):
    assert_error(claim(bot_api, plans=["not a slug"]), 400, "validation_error")


def test_empty_filters_mean_any(account, bot_api):
    ready(account)

    assert claim(bot_api, platforms=[], phase_types=[]).status_code == 200


# --- Heartbeat -----------------------------------------------------------------------------


def test_heartbeat_moves_the_lease_forward(held, account, bot_api, clock):
    clock.shift(timedelta(minutes=7))

    response = on_lease(bot_api, held, "heartbeat")

    assert response.status_code == 200
    assert set(response.json()) == {"lease_expires_at"}
    extended = at(response.json()["lease_expires_at"])
    assert extended == timezone.now() + LEASE
    assert extended > at(held["lease_expires_at"])
    assert reload(first_phase(account)).lease_expires_at == extended

    # The extended lease holds past the original expiry: the scheduler leaves it alone.
    clock.shift(timedelta(minutes=5))
    tick()
    assert reload(first_phase(account)).status == PhaseStatus.IN_PROGRESS


# --- Complete ------------------------------------------------------------------------------

RESULT = {"bio": "Coffee, code, and cats", "screenshots": ["a.png"], "took_ms": 1234}


@pytest.mark.parametrize(
    "sent, stored_result",
    [pytest.param({"result": RESULT}, RESULT, id="with-result"), pytest.param({}, {}, id="none")],
)
def test_complete_finishes_the_phase_and_stores_the_result(
    held, account, bot_api, clock, sent, stored_result
):
    response = on_lease(bot_api, held, "complete", **sent)

    assert response.status_code == 200
    answer = response.json()
    assert answer["id"] == held["id"]
    assert answer["status"] == "completed"
    assert answer["completed_at"] is not None
    attempt = PhaseAttempt.objects.get(phase_id=held["id"])
    assert attempt.outcome == "completed"
    assert attempt.result == stored_result
    assert attempt.finished_at == timezone.now()
    # The account's next phase is unlocked after its delay (6 h for the avatar).
    following = account.phases.get(order=2)
    assert following.status == PhaseStatus.PENDING
    assert following.available_at == timezone.now() + timedelta(hours=6)


# --- Fail ----------------------------------------------------------------------------------

DETAILS = {"proxy": "10.0.0.7:3128", "http_status": None, "trace": ["connect", "timeout"]}
# A failure report, and what the bot is told and what is stored: `retry_in` is the wait
# before the retry (None: no retry, the phase goes to review at once); `escalated` the
# ReviewLog rows saying so; `account_status` what becomes of the account.
FAILURES = {
    "retryable": (
        {"category": "network_error", "reason": "Connection timed out after 30 s"}
        | {"details": DETAILS},
        {"outcome": "retry_scheduled", "status": "content_assigned", "retry_count": 1}
        | {"max_retries": 3, "retry_in": 60, "escalated": 0, "account_status": "active"},
    ),
    "needs-a-person": (
        {"category": "challenge_required", "reason": "SMS code requested"},
        {"outcome": "review_required", "status": "review_required", "retry_count": 0}
        | {"max_retries": 0, "retry_in": None, "escalated": 1, "account_status": "active"},
    ),
    "bot-refuses-the-retry": (
        {"category": "network_error", "reason": "Proxy pool exhausted; retrying is pointless"}
        | {"retryable": False},
        {"outcome": "review_required", "status": "review_required", "retry_count": 0}
        | {"max_retries": 3, "retry_in": None, "escalated": 1, "account_status": "active"},
    ),
    "bot-cannot-retry-a-suspension": (
        {"category": "account_suspended", "reason": "Account disabled by the platform"}
        | {"retryable": True},
        {"outcome": "review_required", "status": "review_required", "retry_count": 0}
        | {"max_retries": 0, "retry_in": None, "escalated": 1, "account_status": "suspended"},
    ),
}


@pytest.mark.parametrize("sent, told", list(FAILURES.values()), ids=list(FAILURES))
def test_a_failure_report_is_answered_with_the_policys_decision(
    held, account, bot_api, clock, sent, told
):
    response = on_lease(bot_api, held, "fail", **sent)

    assert response.status_code == 200
    answer = response.json()
    assert OUTCOME_FIELDS <= set(answer)
    assert answer["outcome"] == told["outcome"]
    assert answer["status"] == told["status"]
    assert answer["retry_count"] == told["retry_count"]
    assert answer["max_retries"] == told["max_retries"]
    if told["retry_in"] is None:
        assert answer["next_attempt_at"] is None
        assert at(answer["review_required_since"]) == timezone.now()
    else:
        delay = at(answer["next_attempt_at"]) - timezone.now()
        base = timedelta(seconds=told["retry_in"])
        assert base * 0.9 <= delay <= base * 1.1  # +/- 10% jitter
        assert answer["review_required_since"] is None
    failure = dict(answer["failure"])
    assert at(failure.pop("at")) == timezone.now()  # the failure's own time
    assert failure == {
        "category": sent["category"],
        "reason": sent["reason"],
        "details": sent.get("details", {}),
    }
    phase = reload(first_phase(account))
    assert at(answer["failure"]["at"]) == phase.last_failure_at
    assert phase.status == told["status"]
    assert phase.last_failure_details == sent.get("details", {})
    attempt = PhaseAttempt.objects.get(phase=phase)
    assert (attempt.outcome, attempt.failure_category) == ("failed", sent["category"])
    escalated = ReviewLog.objects.filter(phase_id=held["id"], action="escalated")
    assert escalated.count() == told["escalated"]
    account.refresh_from_db()
    assert account.status == told["account_status"]


def test_retry_then_escalate_over_http(account, bot_api, clock):
    """network_error retries 3 times with growing delays, then the 4th failure escalates."""
    phase = ready(account)
    answers, waits = [], []
    for number in range(1, 5):
        # given: the phase is claimable (again)
        body = claimed(bot_api)
        assert body["id"] == phase.pk
        assert body["attempt"] == number
        assert body["retry_count"] == number - 1
        if answers:  # a retry keeps the content
            assert body["content"]["id"] == phase.content_id

        # when: the bot reports a network error
        response = report(
            bot_api,
            phase.pk,
            "fail",
            lease_token=body["lease_token"],
            category="network_error",
            reason=f"Timeout #{number}",
            details={"attempt": number},
        )

        # then: the answer carries the failure context and the policy's decision
        assert response.status_code == 200
        answer = response.json()
        answers.append(answer)
        assert {k: v for k, v in answer["failure"].items() if k != "at"} == {
            "category": "network_error",
            "reason": f"Timeout #{number}",
            "details": {"attempt": number},
        }
        assert answer["max_retries"] == 3
        if number < 4:
            assert answer["outcome"] == "retry_scheduled"
            assert answer["status"] == "content_assigned"
            assert answer["retry_count"] == number
            assert answer["review_required_since"] is None
            next_attempt_at = at(answer["next_attempt_at"])
            waits.append(next_attempt_at - timezone.now())
            # Not claimable before its time; claimable once the clock passes it.
            clock.move_to(next_attempt_at - timedelta(seconds=1))
            assert claim(bot_api).status_code == 204
            clock.move_to(next_attempt_at + timedelta(seconds=1))

    # The backoff grows: each wait is longer than the one before (60 s, 120 s, 240 s +/- 10%).
    assert waits[0] < waits[1] < waits[2]

    last = answers[3]
    assert last["outcome"] == "review_required"
    assert last["status"] == "review_required"
    assert last["retry_count"] == 3
    assert last["next_attempt_at"] is None
    assert at(last["review_required_since"]) == timezone.now()

    # The bot can read what happened: the phase with its last failure.
    detail = bot_api.get(phase_url(phase.pk)).json()
    assert detail["status"] == "review_required"
    assert detail["attempt"] == 4
    assert detail["last_failure"]["category"] == "network_error"
    assert detail["last_failure"]["reason"] == "Timeout #4"
    assert detail["last_failure"]["details"] == {"attempt": 4}
    assert PhaseAttempt.objects.filter(phase=phase).count() == 4
    assert claim(bot_api).status_code == 204


def test_backoff_grows_between_retries(account, bot_api, clock):
    """The wait before each retry (failure time to next_attempt_at) roughly doubles."""
    ready(account)
    waits = []
    for _ in range(3):
        body = claimed(bot_api)
        failed_at = timezone.now()
        answer = report(
            bot_api,
            body["id"],
            "fail",
            lease_token=body["lease_token"],
            category="network_error",
            reason="timeout",
        ).json()
        waits.append((at(answer["next_attempt_at"]) - failed_at).total_seconds())
        clock.move_to(at(answer["next_attempt_at"]))

    assert waits == sorted(waits)
    for wait, base in zip(waits, [60, 120, 240], strict=True):
        assert base * 0.9 <= wait <= base * 1.1


# --- Reads ---------------------------------------------------------------------------------


def test_a_bot_reads_a_phase_it_attempted(held, bot_api):
    response = bot_api.get(phase_url(held["id"]))

    assert response.status_code == 200
    seen = response.json()
    assert seen["id"] == held["id"]
    assert seen["status"] == "in_progress"
    assert seen["lease_token"] == held["lease_token"]  # the holder sees its own lease
    assert seen["last_failure"] is None

    on_lease(
        bot_api,
        held,
        "fail",
        category="proxy_error",
        reason="407 from proxy",
        details={"proxy": "p1"},
    )
    seen = bot_api.get(phase_url(held["id"])).json()
    assert seen["status"] == "content_assigned"
    assert seen["lease_token"] is None
    assert seen["last_failure"]["category"] == "proxy_error"
    assert seen["last_failure"]["reason"] == "407 from proxy"
    assert seen["last_failure"]["details"] == {"proxy": "p1"}
    assert seen["last_failure"]["at"] is not None


def test_a_bot_cannot_read_a_phase_it_never_attempted(account, bot_api, other_bot_api):
    phase = ready(account)
    assert_error(bot_api.get(phase_url(phase.pk)), 404, "not_found")

    claimed(other_bot_api)
    # Another bot's phase stays invisible, and so does its lease.
    assert_error(bot_api.get(phase_url(phase.pk)), 404, "not_found")
    assert_error(bot_api.get(phase_url(999_999)), 404, "not_found")


def test_a_bot_reads_an_account_it_worked_on(held, account, bot_api):
    response = bot_api.get(account_url(account.pk))

    assert response.status_code == 200
    seen = response.json()
    assert seen["id"] == account.pk
    assert (seen["platform"], seen["username"], seen["status"]) == (
        account.platform,
        account.username,
        "active",
    )
    assert [p["order"] for p in seen["phases"]] == [1, 2, 3, 4, 5]
    assert [p["status"] for p in seen["phases"]] == ["in_progress"] + ["pending"] * 4
    assert seen["phases"][0]["id"] == held["id"]


def test_a_bot_cannot_read_an_account_it_never_worked_on(account, content_pool, bot_api):
    other = AccountFactory()
    ready(account)
    claimed(bot_api)

    assert_error(bot_api.get(account_url(other.pk)), 404, "not_found")
    assert_error(bot_api.get(account_url(999_999)), 404, "not_found")


# --- Replays -------------------------------------------------------------------------------


# A report sent twice (the bot's HTTP call timed out and it retries).
BOOM = {"reason": "boom", "details": {"k": "v"}}
REPLAYED = {
    "fail-retryable": ("fail", {"category": "network_error", **BOOM}),
    "fail-to-review": ("fail", {"category": "challenge_required", **BOOM}),
    "complete": ("complete", {"result": {"ok": True}}),
}


@pytest.mark.parametrize("action, sent", list(REPLAYED.values()), ids=list(REPLAYED))
def test_replaying_a_report_answers_the_same_and_changes_nothing(
    held, account, bot_api, clock, action, sent
):
    first = on_lease(bot_api, held, action, **sent)
    assert first.status_code == 200
    before = snapshot(first_phase(account))
    following = WarmupPhase.objects.filter(account=account, order=2).values().get()

    clock.shift(timedelta(seconds=5))
    replay = on_lease(bot_api, held, action, **sent)

    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert snapshot(first_phase(account)) == before
    assert WarmupPhase.objects.filter(account=account, order=2).values().get() == following
    if action == "fail":
        assert reload(first_phase(account)).retry_count == first.json()["retry_count"]


def test_a_failure_report_may_carry_the_bots_own_fingerprint(content_pool, bot_api):
    """Two failures with other words and one fingerprint are one signature, named in the
    answer; without a fingerprint, the reason's words decide."""
    answers = []
    for reason, fingerprint in [
        ("Crop of image 1 failed", "avatar-crop"),
        ("Something else entirely", "avatar-crop"),
        ("Something else entirely", None),
    ]:
        ready(AccountFactory())
        held = claimed(bot_api)
        body = {"category": "bot_error", "reason": reason}
        if fingerprint:
            body["fingerprint"] = fingerprint
        response = on_lease(bot_api, held, "fail", **body)
        assert response.status_code == 200, response.content
        answers.append(response.json()["signature"])

    assert answers[0] == answers[1] != answers[2]
    assert set(PhaseAttempt.objects.values_list("signature_id", flat=True)) == set(answers)


def test_a_fingerprint_too_long_is_refused_with_its_field(held, bot_api):
    response = on_lease(
        bot_api, held, "fail", category="bot_error", reason="x", fingerprint="f" * 201
    )

    body = assert_error(response, 400, "validation_error")
    assert "fingerprint" in str(body), body
    assert PhaseAttempt.objects.get(pk__isnull=False).outcome == ""  # nothing recorded


def test_a_failure_report_after_a_completion_is_refused(held, account, bot_api):
    on_lease(bot_api, held, "complete")
    before = snapshot(first_phase(account))

    response = on_lease(
        bot_api,
        held,
        "fail",
        category="unknown",
        reason="second thoughts",
    )

    body = assert_error(response, 409, "lease_lost")
    assert body["current_status"] == "completed"
    assert snapshot(first_phase(account)) == before


# --- Stale and foreign leases ---------------------------------------------------------------

REPORTS = {
    "heartbeat": {},
    "complete": {"result": {"late": True}},
    "fail": {"category": "network_error", "reason": "late"},
}


@pytest.mark.parametrize("action", list(REPORTS))
def test_another_bots_report_on_my_phase_is_refused(held, account, bot_api, other_bot_api, action):
    before = snapshot(first_phase(account))

    # With my (leaked) token, and with a token of its own making: as for a phase that does
    # not exist (tests/warmup/api/test_bot_hardening.py).
    for token in (held["lease_token"], str(uuid.uuid4())):
        response = report(other_bot_api, held["id"], action, lease_token=token, **REPORTS[action])
        assert_error(response, 404, "not_found")

    assert snapshot(first_phase(account)) == before
    # The holder is unaffected.
    assert on_lease(bot_api, held, "heartbeat").status_code == 200


@pytest.mark.parametrize("action", list(REPORTS))
def test_a_late_report_on_an_expired_and_reclaimed_lease_is_refused(
    account, bot, other_bot, bot_api, other_bot_api, clock, action
):
    # given: bot 1 claims, goes silent; the lease expires and the scheduler retries the phase
    ready(account)
    first = claimed(bot_api)
    clock.move_to(at(first["lease_expires_at"]) + timedelta(seconds=1))
    tick()
    phase = reload(first_phase(account))
    assert phase.status == PhaseStatus.CONTENT_ASSIGNED
    assert phase.last_failure_category == "lease_expired"
    clock.move_to(phase.next_attempt_at + timedelta(seconds=1))
    # ... and bot 2 claims it again
    second = claimed(other_bot_api)
    assert second["id"] == first["id"]
    assert second["attempt"] == 2
    before = snapshot(phase)

    # when: bot 1 finally reports with its old lease
    response = report(
        bot_api, first["id"], action, lease_token=first["lease_token"], **REPORTS[action]
    )

    # then: 409 lease_lost, and bot 2's lease is untouched
    body = assert_error(response, 409, "lease_lost")
    assert body["current_status"] == "in_progress"
    assert snapshot(phase) == before
    stored = reload(phase)
    assert (stored.bot_id, str(stored.lease_token)) == (other_bot.pk, second["lease_token"])
    done = report(other_bot_api, second["id"], "complete", lease_token=second["lease_token"])
    assert done.status_code == 200


@pytest.mark.parametrize("action", list(REPORTS))
def test_a_report_after_the_lease_expired_is_refused_before_the_scheduler_runs(
    held, account, bot_api, clock, action
):
    clock.move_to(at(held["lease_expires_at"]) + timedelta(seconds=1))
    before = snapshot(first_phase(account))

    response = on_lease(bot_api, held, action, **REPORTS[action])

    assert_error(response, 409, "lease_lost")
    assert snapshot(first_phase(account)) == before


def test_a_report_on_a_resolved_phase_is_refused(held, account, bot_api, reviewer):
    hold = user_client(reviewer).post(
        "/api/v1/reviews/hold/", {"phase": held["id"], "note": "looks odd"}, format="json"
    )
    assert hold.status_code == 200

    response = on_lease(bot_api, held, "complete")

    body = assert_error(response, 409, "lease_lost")
    assert body["current_status"] == "review_required"
    assert reload(first_phase(account)).status == PhaseStatus.REVIEW_REQUIRED


# --- Authentication ------------------------------------------------------------------------


def test_a_request_without_a_token_gets_401(anon, bot):
    response = anon.post(CLAIM, {}, format="json")

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wb_000000000000_wrong",
        "Bearer not-even-our-format",
        "Bearer",
        "Bearer a b",
        "bearer wb_000000000000_secret_but_wrong",
    ],
)
def test_a_wrong_token_gets_401(bot, header):
    client = bot_client(bot)
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.post(CLAIM, {}, format="json")

    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_user_session_is_not_a_bot(account, reviewer):
    ready(account)

    response = user_client(reviewer).post(CLAIM, {}, format="json")

    assert_error(response, 401, "not_authenticated")
    assert reload(first_phase(account)).status == PhaseStatus.CONTENT_ASSIGNED


def test_a_deactivated_bot_gets_403(account, bot, bot_api):
    ready(account)
    bot_deactivate(name=bot.name)

    response = claim(bot_api)

    assert_error(response, 403, "bot_inactive")
    assert reload(first_phase(account)).status == PhaseStatus.CONTENT_ASSIGNED


def test_a_deactivated_bot_cannot_report_on_its_lease(held, account, bot, bot_api):
    bot_deactivate(name=bot.name)  # which also ends its lease (tests/warmup/services/test_bots.py)
    before = snapshot(first_phase(account))

    response = on_lease(bot_api, held, "complete")

    assert_error(response, 403, "bot_inactive")
    assert snapshot(first_phase(account)) == before


def test_rotating_a_token_invalidates_the_old_one(account, bot, bot_api):
    ready(account)
    _, new_token = bot_rotate_token(name=bot.name)

    assert_error(claim(bot_api), 401, "authentication_failed")
    assert claim(bot_client(bot, new_token)).status_code == 200


def test_last_seen_at_is_written_at_most_once_a_minute(bot, bot_api, clock):
    assert bot.last_seen_at is None
    start = timezone.now()

    claim(bot_api)
    assert Bot.objects.get(pk=bot.pk).last_seen_at == start

    clock.shift(timedelta(seconds=30))
    claim(bot_api)
    clock.shift(timedelta(seconds=29))
    claim(bot_api)
    assert Bot.objects.get(pk=bot.pk).last_seen_at == start

    clock.shift(timedelta(seconds=2))  # 61 s after the first write
    claim(bot_api)
    assert Bot.objects.get(pk=bot.pk).last_seen_at == start + timedelta(seconds=61)


def test_last_seen_at_is_not_written_for_refused_tokens(bot):
    bot_deactivate(name=bot.name)

    bot_client(bot).post(CLAIM, {}, format="json")

    assert Bot.objects.get(pk=bot.pk).last_seen_at is None


# --- Throttling ----------------------------------------------------------------------------


@pytest.fixture
def three_a_minute():
    rest = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"bot": "3/minute"}}
    with override_settings(REST_FRAMEWORK=rest):
        yield


def test_a_bot_over_its_rate_gets_429(bot_api, other_bot_api, three_a_minute, clock):
    for _ in range(3):
        assert claim(bot_api).status_code == 204

    response = claim(bot_api)

    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    # Per bot: another bot still gets through.
    assert claim(other_bot_api).status_code == 204
    # And the window passes.
    clock.shift(timedelta(seconds=61))
    assert claim(bot_api).status_code == 204


def test_every_bot_endpoint_counts_towards_the_rate(held, account, bot_api, three_a_minute):
    assert bot_api.get(phase_url(held["id"])).status_code == 200
    assert bot_api.get(account_url(account.pk)).status_code == 200

    response = on_lease(bot_api, held, "heartbeat")

    assert_error(response, 429, "throttled")
    # A throttled report changes nothing.
    assert reload(first_phase(account)).lease_expires_at == at(held["lease_expires_at"])


def test_the_default_rate_does_not_throttle_a_busy_bot(bot_api):
    # 600/minute by default: a bot polling every 100 ms is fine.
    assert all(claim(bot_api).status_code == 204 for _ in range(30))


def test_fresh_bots_are_not_throttled(db):
    bots = BotFactory.create_batch(3)
    assert all(claim(bot_client(b)).status_code == 204 for b in bots)
