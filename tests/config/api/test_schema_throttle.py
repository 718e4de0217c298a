"""The schema and its docs page look at credentials too (a token in the header is checked), so
they count under the same per-address limit on requests without valid credentials
(AUTH_FAILURE_RATE) as the two APIs (issue #20): a token cannot be guessed there at any speed."""

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from tests.clients import REVIEWS, user_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SCHEMA = "/api/schema/"
DOCS = "/api/docs/"
WRONG_USER_TOKEN = "Token " + "0" * 40
WRONG_BOT_TOKEN = "Bearer not-a-token-of-any-bot"


@pytest.fixture
def three_failures_a_minute():
    rest = settings.REST_FRAMEWORK
    merged = {**rest["DEFAULT_THROTTLE_RATES"], "auth_failures": "3/minute"}
    with override_settings(REST_FRAMEWORK={**rest, "DEFAULT_THROTTLE_RATES": merged}):
        yield


def client_from(address: str, authorization: str = "") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


@pytest.mark.parametrize("path", [SCHEMA, DOCS])
def test_past_the_limit_a_bad_token_gets_429_as_on_the_apis(path, three_failures_a_minute, clock):
    guesser = client_from("203.0.113.7", WRONG_USER_TOKEN)
    for _ in range(3):
        assert guesser.get(path).status_code == 401

    refused = guesser.get(path)

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    # The same address is refused on the review API too: one budget per address.
    assert guesser.get(REVIEWS).status_code == 429
    # Another address still reads the schema.
    assert client_from("198.51.100.2").get(path).status_code == 200


def test_failures_on_the_api_count_against_the_schema_too(three_failures_a_minute, clock):
    guesser = client_from("203.0.113.8", WRONG_USER_TOKEN)
    for _ in range(3):
        assert guesser.get(REVIEWS).status_code == 401

    assert guesser.get(SCHEMA).status_code == 429


def test_reading_the_schema_without_a_token_is_not_a_failure(three_failures_a_minute, clock):
    reader = client_from("203.0.113.9")
    for _ in range(10):
        assert reader.get(SCHEMA).status_code == 200
        assert reader.get(DOCS).status_code == 200


def test_a_right_token_reads_the_schema(three_failures_a_minute, clock):
    client = user_client(UserFactory(reviewer=True))

    for _ in range(5):
        assert client.get(SCHEMA).status_code == 200
