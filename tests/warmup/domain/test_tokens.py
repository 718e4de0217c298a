"""The one rule of API tokens (bots' and reviewers'): made with a prefix, kept as a hash,
checked in constant time, junk refused before any query."""

import pytest

from warmup.domain.tokens import token_hash, token_matches, token_new, token_prefix, token_shape

SHAPES = (token_shape("wr"),)


def test_a_new_token_carries_its_prefix_and_is_kept_as_a_hash_only():
    token = token_new("wr")

    assert token.plaintext.startswith(f"wr_{token.prefix}_")
    assert token.hash == token_hash(token.plaintext) and token.plaintext not in token.hash
    assert token_prefix(token.plaintext, SHAPES) == token.prefix
    assert token_matches(token.plaintext, token.hash)
    assert token_new("wr").plaintext != token.plaintext


@pytest.mark.parametrize(
    "junk",
    [
        None,
        "",
        "wr_0123456789ab_",
        "wb_0123456789ab_x",
        "wr_0123456789AB_x",
        "wr_abc_x",
        "wr_0123456789ab_\x00",
        "wr_0123456789ab_" + "x" * 129,
        "wr_\u00b2" * 3,
    ],
)
def test_a_token_of_no_issued_shape_has_no_prefix(junk):
    assert token_prefix(junk, SHAPES) == ""


def test_a_token_matches_only_the_hash_it_was_made_from():
    one, other = token_new("wr"), token_new("wr")

    assert not token_matches(one.plaintext, other.hash)
    assert not token_matches(one.plaintext, None)  # no row: compared all the same, refused
    assert not token_matches(None, one.hash)
