"""Rate limits of both APIs as a client meets them: requests without valid credentials are
limited per client address (a token cannot be guessed at any speed, and a client's own
X-Forwarded-For does not pick the address it counts under), the review API has a per-user rate,
and a Host the server does not answer to is a JSON error under /api/."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from config.api.errors import BAD_HOST
from tests.clients import CLAIM, REVIEWS, assert_error, bot_client, claim, user_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WRONG_BOT_TOKEN = "Bearer not-a-token-of-any-bot"
WRONG_USER_TOKEN = "Token " + "0" * 40


def rates(**rates):
    rest = settings.REST_FRAMEWORK
    merged = {**rest["DEFAULT_THROTTLE_RATES"], **rates}
    return override_settings(REST_FRAMEWORK={**rest, "DEFAULT_THROTTLE_RATES": merged})


def client_from(address: str, authorization: str = "", **headers) -> APIClient:
    client = APIClient(REMOTE_ADDR=address, **headers)
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


@pytest.fixture
def three_failures_a_minute():
    with rates(auth_failures="3/minute"):
        yield


# --- Requests without valid credentials, per address ---------------------------------------


def test_wrong_bot_tokens_from_one_address_get_429_after_the_limit_even_a_right_one(
    bot, three_failures_a_minute, clock
):
    guesser = client_from("203.0.113.7", WRONG_BOT_TOKEN)
    for _ in range(3):
        assert_error(claim(guesser), 401, "authentication_failed")

    refused = claim(guesser)
    # Past the limit the address's credentials are not even looked at.
    right_token_same_address = claim(client_from("203.0.113.7", f"Bearer {bot.token}"))

    assert_error(refused, 429, "throttled")
    assert 0 < int(refused["Retry-After"]) <= 60
    assert_error(right_token_same_address, 429, "throttled")
    # Another address is not affected, and the window passes.
    assert claim(client_from("198.51.100.2", f"Bearer {bot.token}")).status_code == 204
    clock.shift(timedelta(seconds=61))
    assert_error(claim(guesser), 401, "authentication_failed")


def test_requests_with_no_credentials_and_a_deactivated_bot_count_too(bot, three_failures_a_minute):
    bot.is_active = False
    bot.save()
    address = "203.0.113.8"
    assert_error(claim(client_from(address)), 401, "not_authenticated")
    assert_error(claim(client_from(address)), 401, "not_authenticated")
    assert_error(claim(client_from(address, f"Bearer {bot.token}")), 403, "bot_inactive")

    assert_error(claim(client_from(address)), 429, "throttled")


def test_a_working_bot_never_spends_its_address_budget(bot, three_failures_a_minute):
    working = client_from("203.0.113.9", f"Bearer {bot.token}")

    assert all(claim(working).status_code == 204 for _ in range(6))
    assert_error(claim(client_from("203.0.113.9", WRONG_BOT_TOKEN)), 401, "authentication_failed")


def test_a_forged_x_forwarded_for_does_not_make_a_new_address(three_failures_a_minute):
    for n in range(3):
        forged = client_from("203.0.113.10", WRONG_BOT_TOKEN, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        assert_error(claim(forged), 401, "authentication_failed")

    again = client_from("203.0.113.10", WRONG_BOT_TOKEN, HTTP_X_FORWARDED_FOR="10.0.0.99")

    assert_error(claim(again), 429, "throttled")


def test_behind_one_proxy_the_address_it_saw_counts(three_failures_a_minute):
    balancer = "10.0.0.1"

    def via_balancer(client_address: str) -> APIClient:
        # The client may send its own X-Forwarded-For; the balancer appends what it saw.
        forwarded = f"192.0.2.55, {client_address}"
        return client_from(balancer, WRONG_BOT_TOKEN, HTTP_X_FORWARDED_FOR=forwarded)

    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
        for _ in range(3):
            assert_error(claim(via_balancer("203.0.113.11")), 401, "authentication_failed")
        limited = claim(via_balancer("203.0.113.11"))
        neighbour = claim(via_balancer("203.0.113.12"))

    assert_error(limited, 429, "throttled")
    assert_error(neighbour, 401, "authentication_failed")


def test_wrong_review_tokens_are_limited_per_address_too(three_failures_a_minute):
    guesser = client_from("203.0.113.13", WRONG_USER_TOKEN)
    for _ in range(3):
        assert_error(guesser.get(REVIEWS), 401, "authentication_failed")

    assert_error(guesser.get(REVIEWS), 429, "throttled")


def test_the_default_failure_budget_allows_a_few_mistakes(db):
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0  # REMOTE_ADDR unless configured
    mistaken = client_from("203.0.113.14", WRONG_BOT_TOKEN)

    assert all(claim(mistaken).status_code == 401 for _ in range(10))


# --- The review API's per-user rate --------------------------------------------------------


def test_a_reviewer_over_review_rate_gets_429_and_another_reviewer_does_not(reviewer, clock):
    busy, other = user_client(reviewer), user_client(UserFactory(reviewer=True))
    with rates(review="2/minute"):
        assert busy.get(REVIEWS).status_code == 200
        assert busy.get(REVIEWS).status_code == 200
        refused = busy.get(REVIEWS)
        others = other.get(REVIEWS)
        clock.shift(timedelta(seconds=61))
        later = busy.get(REVIEWS)

    assert_error(refused, 429, "throttled")
    assert int(refused["Retry-After"]) > 0
    assert others.status_code == 200
    assert later.status_code == 200


def test_the_default_review_rate_is_generous(reviewer_api):
    assert all(reviewer_api.get(REVIEWS).status_code == 200 for _ in range(30))


# --- A Host the server does not answer to --------------------------------------------------


def test_a_disallowed_host_under_api_is_a_json_400_bad_host(bot):
    response = bot_client(bot).post(CLAIM, {}, format="json", HTTP_HOST="evil.example")

    body = assert_error(response, 400, "bad_host")
    assert body["detail"] == BAD_HOST.format(host="evil.example")


def test_a_disallowed_host_elsewhere_keeps_the_html_page(client):
    response = client.get("/admin/login/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
