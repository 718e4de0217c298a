"""A Merkle tree of SHA-256 as RFC 6962 (Certificate Transparency) defines it, over any
sequence of leaves: pure functions, no Django.

    leaf hash  = SHA-256(0x00 || leaf)
    node hash  = SHA-256(0x01 || left || right)
    root of 0 leaves = SHA-256(""); of 1 leaf = its leaf hash; of n > 1 leaves = the node hash
    of the root of the first k leaves and the root of the rest, k the largest power of two < n.

The prefixes keep a leaf from passing for a node. `merkle_root` (and `MerkleRoot`, fed a leaf at
a time) reads its leaves once, in order, holding one hash per level, so the review log's
million chain heads are hashed as they stream from the database. `inclusion_proof` and
`verify_inclusion` (RFC 6962 section 2.1.1, RFC 9162 section 2.1.3.2) let a single head be
shown to be in a root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleRoot:
    """A root computed as leaves are added, one at a time (several can be fed from one pass):
    a stack of perfect subtrees, left to right, each (size, hash); sizes strictly decrease, so
    the stack spells the leaf count in binary and is never longer than its bit length."""

    def __init__(self):
        self._stack: list[tuple[int, bytes]] = []
        self.size = 0

    def add(self, leaf: bytes) -> None:
        size, digest = 1, leaf_hash(leaf)
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, digest = left_size + size, node_hash(left, digest)
        self._stack.append((size, digest))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        # The split at the largest power of two below n leaves exactly these subtrees: fold
        # them from the right.
        root = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            root = node_hash(left, root)
        return root


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    """The RFC 6962 root of `leaves` (raw leaf data, in order), in one pass."""
    tree = MerkleRoot()
    for leaf in leaves:
        tree.add(leaf)
    return tree.root()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf `index` in the tree of `leaves`, nearest sibling first."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _largest_power_of_two_below(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), merkle_root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), merkle_root(leaves[:k])]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes):
    """True when `proof` shows `leaf` at `index` of a tree of `size` leaves with `root`."""
    if not 0 <= index < size:
        return False
    fn, sn, digest = index, size - 1, leaf_hash(leaf)
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            digest = node_hash(digest, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and digest == root
