"""The Authorization header as both APIs read it: the credential under one of the keywords,
nothing under another scheme, and a 401 with the API's own words when it is malformed."""

import pytest
from rest_framework import exceptions
from rest_framework.test import APIRequestFactory

from config.api.authentication import header_credential

KEYWORDS = (b"bearer", b"token")


def request_with(header: bytes | None):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    return APIRequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("header", "credential"),
    [
        (b"Bearer abc", "abc"),
        (b"token abc", "abc"),
        (b"BEARER abc", "abc"),
        (None, None),
        (b"", None),
        (b"Basic dXNlcjpwYXNz", None),
    ],
)
def test_the_credential_under_one_of_the_keywords_or_none(header, credential):
    assert header_credential(request_with(header), KEYWORDS, malformed="bad") == credential


@pytest.mark.parametrize("header", [b"Bearer", b"Bearer a b"])
def test_a_header_not_of_two_words_is_refused_with_the_malformed_words(header):
    with pytest.raises(exceptions.AuthenticationFailed, match="^bad$"):
        header_credential(request_with(header), KEYWORDS, malformed="bad")


def test_a_credential_not_utf8_is_refused_with_the_undecodable_words_or_the_malformed_ones():
    request = request_with(b"Bearer \xff\xfe")
    with pytest.raises(exceptions.AuthenticationFailed, match="^not text$"):
        header_credential(request, KEYWORDS, malformed="bad", undecodable="not text")
    with pytest.raises(exceptions.AuthenticationFailed, match="^bad$"):
        header_credential(request, KEYWORDS, malformed="bad")
