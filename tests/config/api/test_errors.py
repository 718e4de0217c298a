"""Every error the API gives is JSON with a stable `code` and a human `detail`; no input,
however malformed, produces a 500."""

import json
import uuid
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.api.parsers import MAX_BODY_BYTES
from tests.builders import reload
from tests.clients import (
    CLAIM,
    HOLD,
    REVIEWS,
    STATS,
    assert_error,
    bot_client,
    claim,
    phase_url,
    report,
    review_url,
    user_client,
)
from tests.factories import AccountFactory, UserFactory, WarmupPhaseFactory
from warmup.models import FailureCategory, PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.services.bots import bot_deactivate
from warmup.services.tick import tick

JSON = "application/json"


def post_raw(client, url, body: bytes | str, content_type=JSON):
    return client.post(url, data=body, content_type=content_type)


def post_json(client, url, **body):
    """POST with the standard library's encoder: ASCII escapes, so lone surrogates get through
    (the test client's own JSON encoder refuses them)."""
    return post_raw(client, url, json.dumps(body))


def as_numbers(value):
    """JSON with every number as a Decimal: PostgreSQL's jsonb keeps 2.5e16 as 25000000000000000,
    which reads back as an int; the value is the same, the Python type is not."""
    return json.loads(json.dumps(value), parse_float=Decimal, parse_int=Decimal)


def reload_status(phase_id):
    return WarmupPhase.objects.get(pk=phase_id).status


@pytest.fixture
def held_lease(account, bot_api):
    """A phase the bot holds: (phase id, lease token)."""
    WarmupPhaseFactory(account=account, content_assigned=True)
    body = claim(bot_api).json()
    return body["id"], body["lease_token"]


@pytest.fixture
def in_review(account, bot):
    return WarmupPhaseFactory(account=account, bot=bot, in_review=True)


# --- 400 -----------------------------------------------------------------------------------


def test_missing_fields_are_listed_per_field(held_lease, bot_api):
    phase_id, _ = held_lease

    response = report(bot_api, phase_id, "fail")

    body = assert_error(response, 400, "validation_error")
    assert set(body["errors"]) == {"lease_token", "category", "reason"}
    assert all(isinstance(m, str) for msgs in body["errors"].values() for m in msgs)
    assert reload_status(phase_id) == PhaseStatus.IN_PROGRESS


def test_an_unknown_failure_category_lists_the_valid_ones(held_lease, bot_api):
    phase_id, token = held_lease

    response = report(bot_api, phase_id, "fail", lease_token=token, category="gremlins", reason="?")

    body = assert_error(response, 400, "validation_error")
    [message] = body["errors"]["category"]
    assert "gremlins" in message
    assert all(category in message for category in FailureCategory.values)
    assert reload_status(phase_id) == PhaseStatus.IN_PROGRESS


def test_recategorizing_to_an_unknown_category_lists_the_valid_ones(in_review, reviewer_api):
    response = reviewer_api.post(
        review_url(in_review.pk, "recategorize"),
        {"category": "gremlins", "note": "it was gremlins"},
        format="json",
    )

    body = assert_error(response, 400, "validation_error")
    [message] = body["errors"]["category"]
    assert all(category in message for category in FailureCategory.values)
    assert reload(in_review).last_failure_category == "challenge_required"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"platforms": ["myspace"]}, "platforms"),
        ({"platforms": "instagram"}, "platforms"),
        ({"phase_types": ["not a slug!"]}, "phase_types"),
        ([], "non_field_errors"),
    ],
)
def test_bad_claim_filters(bot_api, body, field):
    response = bot_api.post(CLAIM, body, format="json")

    assert field in assert_error(response, 400, "validation_error")["errors"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"lease_token": "not-a-uuid"}, "lease_token"),
        ({"lease_token": None}, "lease_token"),
        ({"result": ["not", "an", "object"]}, "result"),
        ({"result": {"text": "NUL \x00 inside"}}, "result"),
        ({"result": {"key \x00": 1}}, "result"),
    ],
)
def test_bad_completion_reports(held_lease, bot_api, body, field):
    phase_id, token = held_lease
    body = {"lease_token": token, **body}

    response = report(bot_api, phase_id, "complete", **body)

    assert field in assert_error(response, 400, "validation_error")["errors"]
    assert reload_status(phase_id) == PhaseStatus.IN_PROGRESS


@pytest.mark.parametrize(
    "body, field",
    [
        ({"reason": "   "}, "reason"),
        ({"reason": "a\x00b"}, "reason"),
        ({"reason": "x" * 2001}, "reason"),
        ({"details": "a string"}, "details"),
        ({"details": {"nested": ["a\x00b"]}}, "details"),
        ({"retryable": "perhaps"}, "retryable"),
    ],
)
def test_bad_failure_reports(held_lease, bot_api, body, field):
    phase_id, token = held_lease
    body = {"lease_token": token, "category": "network_error", "reason": "timeout", **body}

    response = report(bot_api, phase_id, "fail", **body)

    assert field in assert_error(response, 400, "validation_error")["errors"]
    assert reload_status(phase_id) == PhaseStatus.IN_PROGRESS


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"lease_token": }',
        b"\xff\xfe\x00",
        b'{"details": NaN}',
        b'{"details": {"n": Infinity}}',
        b'{"details": {"n": 1e999}}',
        b'{"details": {"n": -1e400}}',
    ],
)
def test_malformed_json_is_a_parse_error(held_lease, bot_api, body):
    phase_id, _ = held_lease

    response = post_raw(bot_api, phase_url(phase_id, "fail"), body)

    assert_error(response, 400, "parse_error")
    assert reload_status(phase_id) == PhaseStatus.IN_PROGRESS


def test_deeply_nested_json_is_a_parse_error(held_lease, bot_api):
    phase_id, _ = held_lease
    body = b"[" * 30_000 + b"]" * 30_000  # under 64 KiB, but deeper than the parser goes

    response = post_raw(bot_api, phase_url(phase_id, "fail"), body)

    assert_error(response, 400, "parse_error")


@pytest.mark.parametrize("charset", ["zlib", "bz2", "base64", "rot13"])
def test_a_non_text_charset_is_refused(bot_api, charset):
    # A bytes-to-bytes codec would decompress a small body past the size limit.
    response = post_raw(bot_api, CLAIM, b"{}", content_type=f"{JSON}; charset={charset}")

    assert_error(response, 400, "parse_error")


def test_an_unknown_charset_is_read_as_utf_8(bot_api):
    response = post_raw(bot_api, CLAIM, b"{}", content_type=f"{JSON}; charset=no-such-charset")

    assert response.status_code == 204


# --- 401, 403 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, url",
    [
        ("post", CLAIM),
        ("get", phase_url(1)),
        ("post", phase_url(1, "heartbeat")),
        ("post", phase_url(1, "complete")),
        ("post", phase_url(1, "fail")),
        ("get", "/api/v1/bot/accounts/1/"),
    ],
)
def test_bot_endpoints_need_a_bot_token(anon, db, method, url):
    response = getattr(anon, method)(url, {}, format="json")

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_wrong_bot_token_is_401(bot):
    response = claim(bot_client(bot, "wb_000000000000_nope"))

    assert_error(response, 401, "authentication_failed")


def test_a_deactivated_bot_is_403(bot, bot_api):
    bot_deactivate(name=bot.name)

    assert_error(claim(bot_api), 403, "bot_inactive")


def test_review_api_needs_a_login(anon, db):
    response = anon.get(REVIEWS)

    assert_error(response, 401, "not_authenticated")


def test_review_actions_need_the_permission(in_review, viewer):
    response = user_client(viewer).post(
        review_url(in_review.pk, "comment"), {"note": "hi"}, format="json"
    )

    assert_error(response, 403, "permission_denied")


# --- 404 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/",
        "/api/v1/",
        "/api/v1/nothing-here/",
        "/api/v1/bot/phases/",
        "/api/v1/bot/phases/abc/",
        "/api/v1/bot/phases/-1/",
        "/api/v1/bot/phases/99999999999999999999999/",
        "/api/v1/bot/phases/99999999999999999999999/complete/",
        "/api/v1/bot/accounts/99999999999999999999999/",
        "/api/v1/reviews/99999999999999999999999/",
        "/api/v1/reviews/99999999999999999999999/resolve/",
        "/api/v1/reviews/1/nope/",
    ],
)
def test_unknown_urls_under_api_are_json_404(bot_api, url):
    for response in (bot_api.get(url), bot_api.post(url, {}, format="json")):
        assert_error(response, 404, "not_found")


def test_unknown_objects_are_404(bot_api, reviewer_api):
    assert_error(bot_api.get(phase_url(999_999_999_999)), 404, "not_found")
    assert_error(
        report(bot_api, 999_999_999_999, "heartbeat", lease_token=str(uuid.uuid4())),
        404,
        "not_found",
    )
    assert_error(reviewer_api.get(review_url(999_999_999_999)), 404, "not_found")
    assert_error(
        reviewer_api.post(
            review_url(999_999_999_999, "resolve"),
            {"action": "skip", "reason_code": "other", "note": "n"},
            format="json",
        ),
        404,
        "not_found",
    )
    assert_error(
        reviewer_api.post(HOLD, {"phase": 999_999_999_999, "note": "n"}, format="json"),
        404,
        "not_found",
    )


def test_a_page_past_the_end_is_404(reviewer_api):
    assert_error(reviewer_api.get(REVIEWS, {"page": 999}), 404, "not_found")


# --- 405 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", CLAIM),
        ("put", phase_url(1)),
        ("delete", phase_url(1, "complete")),
        ("get", phase_url(1, "fail")),
    ],
)
def test_wrong_method_on_bot_endpoints_is_405(bot_api, method, url):
    response = getattr(bot_api, method)(url)

    assert_error(response, 405, "method_not_allowed")


@pytest.mark.parametrize(
    "method, url",
    [
        ("post", REVIEWS),
        ("delete", review_url(1)),
        ("get", review_url(1, "resolve")),
        ("get", HOLD),
        ("post", STATS),
    ],
)
def test_wrong_method_on_review_endpoints_is_405(reviewer_api, method, url):
    response = getattr(reviewer_api, method)(url)

    assert_error(response, 405, "method_not_allowed")


# --- 409 -----------------------------------------------------------------------------------


def test_resolving_an_item_not_in_review_is_409_with_the_current_status(held_lease, reviewer_api):
    phase_id, _ = held_lease

    response = reviewer_api.post(
        review_url(phase_id, "resolve"),
        {"action": "complete", "reason_code": "other", "note": "done by hand"},
        format="json",
    )

    body = assert_error(response, 409, "invalid_transition")
    assert body["current_status"] == "in_progress"
    assert reload_status(phase_id) == PhaseStatus.IN_PROGRESS


def test_holding_a_completed_phase_is_409(account, bot, reviewer_api):
    phase = WarmupPhaseFactory(account=account, bot=bot, completed=True)

    response = reviewer_api.post(HOLD, {"phase": phase.pk, "note": "hmm"}, format="json")

    body = assert_error(response, 409, "invalid_transition")
    assert body["current_status"] == "completed"


def test_a_stale_lease_is_409_lease_lost(held_lease, bot_api):
    phase_id, _ = held_lease

    response = report(bot_api, phase_id, "heartbeat", lease_token=str(uuid.uuid4()))

    body = assert_error(response, 409, "lease_lost")
    assert body["current_status"] == "in_progress"


# --- 413, 415 ------------------------------------------------------------------------------


def test_a_body_over_64_kib_is_413(held_lease, bot_api):
    phase_id, token = held_lease
    body = json.dumps(
        {
            "lease_token": token,
            "category": "network_error",
            "reason": "big",
            "details": {"blob": "x" * MAX_BODY_BYTES},
        }
    )
    assert len(body) > MAX_BODY_BYTES

    response = post_raw(bot_api, phase_url(phase_id, "fail"), body)

    assert_error(response, 413, "payload_too_large")
    assert reload_status(phase_id) == PhaseStatus.IN_PROGRESS


def test_a_body_just_under_64_kib_is_accepted(held_lease, bot_api):
    phase_id, token = held_lease
    envelope = {"lease_token": token, "result": {"blob": ""}}
    padding = MAX_BODY_BYTES - len(json.dumps(envelope))
    body = json.dumps({"lease_token": token, "result": {"blob": "x" * padding}})
    assert len(body) == MAX_BODY_BYTES

    response = post_raw(bot_api, phase_url(phase_id, "complete"), body)

    assert response.status_code == 200


def test_a_big_review_note_is_413(in_review, reviewer_api):
    response = reviewer_api.post(
        review_url(in_review.pk, "comment"), {"note": "x" * (MAX_BODY_BYTES + 1)}, format="json"
    )

    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/plain", b"platforms=instagram"),
        ("application/x-www-form-urlencoded", b"platforms=instagram"),
        ("multipart/form-data; boundary=xyz", b"--xyz--"),
        ("application/xml", b"<claim/>"),
    ],
)
def test_a_non_json_body_is_415(bot_api, content_type, body):
    response = post_raw(bot_api, CLAIM, body, content_type=content_type)

    assert_error(response, 415, "unsupported_media_type")


def test_a_non_json_review_action_is_415(in_review, reviewer_api):
    response = post_raw(reviewer_api, review_url(in_review.pk, "comment"), b"note=hi", "text/plain")

    assert_error(response, 415, "unsupported_media_type")


# --- 429 -----------------------------------------------------------------------------------


def test_a_bot_over_its_rate_is_429(bot_api):
    rest = {**django_settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"bot": "1/day"}}
    with override_settings(REST_FRAMEWORK=rest):
        assert claim(bot_api).status_code == 204
        response = claim(bot_api)

    assert_error(response, 429, "throttled")
    assert "Retry-After" in response


# --- 500 -----------------------------------------------------------------------------------


def test_a_server_error_is_json_too(bot, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("warmup.api.views.phase_claim", broken)
    client = bot_client(bot)
    client.raise_request_exception = False

    response = claim(client)

    body = assert_error(response, 500, "server_error")
    assert "a bug" not in body["detail"]


# --- Arbitrary input never produces a 500 ----------------------------------------------------

# Text the database may refuse: NUL (PostgreSQL's jsonb and text), lone surrogates (no UTF-8).
NASTY_TEXT = ["\x00", "a\x00b", "\ud800", "x\udfffy", "\u202e", "\ufeff", "' OR 1=1 --"]
texts = st.text(max_size=30) | st.sampled_from(NASTY_TEXT)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "platforms",
    "phase_types",
    "lease_token",
    "result",
    "category",
    "reason",
    "details",
    "retryable",
    "action",
    "reason_code",
    "note",
    "user",
    "phase",
]
# Objects with the endpoints' own keys get past the first checks more often than random ones.
bodies = json_values | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_values)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_handled(response):
    assert response.status_code < 500, response.content[:500]
    if response.status_code != 204:
        assert response["Content-Type"].startswith("application/json")
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["code"], str) and isinstance(body["detail"], str)


@pytest.fixture
def targets(account, bot, bot_api, content_pool):
    """Every bot endpoint on a phase the bot holds, every review action on an item in review."""
    WarmupPhaseFactory(account=account, content_assigned=True)
    held = claim(bot_api).json()["id"]
    other = AccountFactory()
    reviewed = WarmupPhaseFactory(account=other, bot=bot, in_review=True).pk
    return [
        (bot_api, CLAIM),
        (bot_api, phase_url(held, "heartbeat")),
        (bot_api, phase_url(held, "complete")),
        (bot_api, phase_url(held, "fail")),
        *(
            (user_client(UserFactory(reviewer=True)), review_url(reviewed, action))
            for action in ("resolve", "assign", "comment", "recategorize")
        ),
        (user_client(UserFactory(reviewer=True)), HOLD),
    ]


@FUZZ
@given(body=bodies)
def test_arbitrary_json_never_breaks_an_endpoint(targets, body):
    cache.clear()  # stay under the rate limit: this test is about input, not throttling
    for client, url in targets:
        assert_handled(client.post(url, json.dumps(body), content_type=JSON))


@FUZZ
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_never_break_an_endpoint(targets, body):
    cache.clear()
    for client, url in targets:
        assert_handled(client.post(url, body, content_type=JSON))


# Mostly valid shapes (an object, a boolean), so most reports reach the services and the
# database; now and then anything at all.
json_objects = st.dictionaries(st.text(max_size=12) | st.sampled_from(NASTY_TEXT), json_values)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    category=st.sampled_from(FailureCategory.values) | st.text(max_size=20),
    reason=texts,
    details=json_objects | json_values,
    result=json_objects | json_values,
    retryable=st.booleans() | json_values,
)
def test_well_formed_reports_with_arbitrary_payloads_never_break(
    content_pool, bot, bot_api, category, reason, details, result, retryable
):
    """A live lease per example, so the services, the database and the renderer all see the
    arbitrary details and results, not just the input checks."""
    cache.clear()
    AccountFactory()
    tick()
    held = claim(bot_api)
    assert held.status_code == 200
    phase_id, token = held.json()["id"], held.json()["lease_token"]

    failed = post_json(
        bot_api,
        phase_url(phase_id, "fail"),
        lease_token=token,
        category=category,
        reason=reason,
        details=details,
        retryable=retryable,
    )
    assert_handled(failed)
    if failed.status_code == 200:
        # The answer echoes exactly what was stored.
        assert failed.json()["failure"]["details"] == details
        stored = WarmupPhase.objects.get(pk=phase_id).last_failure_details
        assert as_numbers(stored) == as_numbers(details)
        return
    completed = post_json(
        bot_api, phase_url(phase_id, "complete"), lease_token=token, result=result
    )
    assert_handled(completed)
    if completed.status_code == 200:
        assert as_numbers(PhaseAttempt.objects.get(lease_token=token).result) == as_numbers(result)


def deep_failure_report(token: str, lists: int) -> str:
    """A failure report nested 2 + `lists` levels deep (body, details, then the lists)."""
    details = '{"x": ' + "[" * lists + "]" * lists + "}"
    return (
        f'{{"lease_token": "{token}", "category": "network_error", "reason": "deep", '
        f'"details": {details}}}'
    )


def test_json_nested_up_to_64_levels_is_accepted(held_lease, bot_api):
    phase_id, token = held_lease

    response = post_raw(bot_api, phase_url(phase_id, "fail"), deep_failure_report(token, 62))

    assert response.status_code == 200


@pytest.mark.parametrize("lists", [63, 500, 900, 990, 2000])
def test_json_nested_deeper_is_a_parse_error(held_lease, bot_api, lists):
    phase_id, token = held_lease

    response = post_raw(bot_api, phase_url(phase_id, "fail"), deep_failure_report(token, lists))

    assert_error(response, 400, "parse_error")
    assert reload_status(phase_id) == PhaseStatus.IN_PROGRESS


# --- CSRF -------------------------------------------------------------------------------------


def test_a_post_to_an_unknown_api_url_is_a_json_404_even_with_csrf_checks(db):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/api/v1/nothing-here/", "{}", content_type=JSON)

    assert_error(response, 404, "not_found")


def test_a_bot_needs_no_csrf_token(account, bot):
    WarmupPhaseFactory(account=account, content_assigned=True)
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {bot.token}")

    assert client.post(CLAIM, "{}", content_type=JSON).status_code == 200


def test_a_session_needs_the_csrf_token_for_actions(in_review, reviewer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)

    response = client.post(review_url(in_review.pk, "comment"), '{"note": "n"}', JSON)

    body = assert_error(response, 403, "permission_denied")
    assert "CSRF" in body["detail"]
    assert [r.action for r in in_review.review_logs.all()] == ["escalated"]
    # Reading needs no token.
    assert client.get(REVIEWS).status_code == 200
