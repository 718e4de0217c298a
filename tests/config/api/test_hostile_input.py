"""Junk that once reached the database and came back as a 500."""

import pytest

from tests.clients import CLAIM, REVIEWS, assert_error


@pytest.mark.parametrize("token", ["wb_ab\x00c_x", "wb_0123456789ab_\x00", "wb_\u00b2" * 3])
def test_a_bot_token_with_junk_characters_is_a_401(db, anon, token):
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert_error(anon.post(CLAIM, {}, format="json"), 401, "authentication_failed")


@pytest.mark.parametrize("key", ["ab\x00c", "0" * 39 + "\x00", "z" * 40])
def test_a_user_token_with_junk_characters_is_a_401(db, anon, key):
    anon.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert_error(anon.get(REVIEWS), 401, "authentication_failed")


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "12\u00b3"])
def test_non_ascii_digits_in_the_bot_filter_match_nothing_instead_of_failing(
    db, reviewer_api, value
):
    response = reviewer_api.get(REVIEWS, {"bot": value})

    assert response.status_code == 200
    assert response.json()["results"] == []
