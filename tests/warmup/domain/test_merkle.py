"""The Merkle tree and the signed checkpoint statement: RFC 6962's test vectors, a root that
changes when any head changes, inclusion proofs, and a statement that verifies only as signed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warmup.domain.checkpoints import (
    BadCheckpointLine,
    Statement,
    head_leaf,
    heads_root,
    parse_line,
)
from warmup.domain.merkle import (
    EMPTY_ROOT,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_inclusion,
)

# certificate-transparency-go's merkle test data: eight leaves and the root of each prefix.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

leaves_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=40)


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, as written: split at the largest power of two below n."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_certificate_transparency(size):
    assert merkle_root(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]


def test_the_empty_tree():
    assert merkle_root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@given(leaves_lists)
def test_the_one_pass_root_is_the_rfc_root(leaves):
    assert merkle_root(iter(leaves)) == reference_root(leaves)


@given(leaves_lists, st.data())
def test_a_root_changes_when_any_leaf_changes(leaves, data):
    index = data.draw(st.integers(0, len(leaves) - 1))
    changed = data.draw(st.binary(max_size=8).filter(lambda leaf: leaf != leaves[index]))

    assert merkle_root([*leaves[:index], changed, *leaves[index + 1 :]]) != merkle_root(leaves)


@given(leaves_lists)
def test_a_root_changes_when_the_last_leaf_is_cut(leaves):
    assert merkle_root(leaves[:-1]) != merkle_root(leaves)


@given(leaves_lists, st.data())
def test_an_inclusion_proof_shows_its_leaf_and_no_other(leaves, data):
    index = data.draw(st.integers(0, len(leaves) - 1))
    root = merkle_root(leaves)
    proof = inclusion_proof(leaves, index)

    assert verify_inclusion(leaves[index], index, len(leaves), proof, root)
    assert not verify_inclusion(leaves[index] + b"x", index, len(leaves), proof, root)
    assert not verify_inclusion(leaves[index], index, len(leaves), proof, b"\x00" * 32)


# --- The signed statement ---------------------------------------------------------------------

HEADS = [("account", 3, 10, "a" * 64), ("phase", 1, 11, "b" * 64), ("phase", 2, 12, "c" * 64)]


def statement(**changes) -> Statement:
    root, chains = heads_root(HEADS)
    fields = {
        "number": 7,
        "created_at": datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
        "last_row": 12,
        "rows": 30,
        "chains": chains,
        "root": root,
    }
    return Statement(**(fields | changes))


def test_a_head_is_one_ascii_leaf():
    assert head_leaf("phase", 12, 345, "ab" * 32) == b"phase:12:345:" + b"ab" * 32


@given(st.integers(0, len(HEADS) - 1), st.sampled_from(["row", "hash", "chain"]))
def test_the_heads_root_changes_when_any_head_changes(index, part):
    kind, chain, row, digest = HEADS[index]
    changed = {
        "row": (kind, chain, row + 1, digest),
        "hash": (kind, chain, row, "f" * 64),
        "chain": (kind, chain + 100, row, digest),
    }[part]
    heads = [*HEADS[:index], changed, *HEADS[index + 1 :]]

    assert heads_root(heads)[0] != heads_root(HEADS)[0]
    assert heads_root(HEADS[:-1])[0] != heads_root(HEADS)[0]


def test_a_statement_verifies_with_its_key_only():
    signed = statement().signed("the key")

    assert signed.verifies("the key")
    assert not signed.verifies("another key")


@pytest.mark.parametrize(
    "change", [{"number": 8}, {"rows": 29}, {"last_row": 11}, {"chains": 2}, {"root": "0" * 64}]
)
def test_any_changed_field_fails_the_mac(change):
    signed = statement().signed("the key")
    forged = Statement(**(signed.__dict__ | change))

    assert not forged.verifies("the key")


def test_the_json_line_reads_back_as_the_same_statement():
    signed = statement().signed("the key")
    logged = json.loads(signed.line()) | {"event": "review_log_checkpoint", "level": "info"}

    assert parse_line(json.dumps(logged)) == signed
    assert parse_line(json.dumps(logged)).verifies("the key")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("nonsense", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"number": 1}', "it lacks"),
        ("BAD_NUMBER", "number is not a whole number"),
        ("BAD_ROOT", "root is not 64 hex digits"),
        ("BAD_TIME", "created_at is not a time"),
    ],
)
def test_a_bad_line_says_what_is_wrong(text, why):
    good = json.loads(statement().signed("k").line())
    text = {
        "BAD_NUMBER": json.dumps(good | {"number": "7"}),
        "BAD_ROOT": json.dumps(good | {"root": "xyz"}),
        "BAD_TIME": json.dumps(good | {"created_at": "yesterday"}),
    }.get(text, text)

    with pytest.raises(BadCheckpointLine, match=why):
        parse_line(text)
