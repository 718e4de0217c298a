"""API tokens, bots' and reviewers' alike: the one rule for making, keeping and checking them.

A token reads `<scheme>_<prefix>_<secret>` (`wb_` a bot's, `wr_` a reviewer's). Only its prefix
(to find the row) and a SHA-256 hash of the whole token (to check it) are stored: the plaintext
exists once, when it is made, to be shown to whoever made it. A token is checked against the
hash in constant time, and a token whose prefix finds no row is compared all the same, so a
miss costs what a hit costs.

Pure functions: no database, no settings. The services store and look up what these return
(warmup.services.tokens.token_find).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX_LENGTH = 12  # hex characters: 48 bits, so two tokens' prefixes do not meet
SECRET_BYTES = 32

# Compared against when no row has the token's prefix, so a miss costs the same as a hit.
_NO_SUCH_TOKEN = hashlib.sha256(b"no such token").hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just made: `plaintext` to show once, `prefix` and `hash` to store."""

    plaintext: str
    prefix: str
    hash: str


def token_shape(scheme: str) -> re.Pattern:
    """The tokens `token_new(scheme)` makes, with the prefix as the group `prefix`."""
    return re.compile(rf"{scheme}_(?P<prefix>[0-9a-f]{{{PREFIX_LENGTH}}})_[A-Za-z0-9_-]{{1,128}}")


def token_new(scheme: str) -> NewToken:
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    plaintext = f"{scheme}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return NewToken(plaintext=plaintext, prefix=prefix, hash=token_hash(plaintext))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str | None, shapes: tuple[re.Pattern, ...]) -> str:
    """The prefix of `token` when it has one of `shapes` (patterns with a `prefix` group), else
    "": a token of no issued shape is refused before any query (a NUL byte or other junk in a
    header must not reach the database)."""
    for shape in shapes:
        if match := shape.fullmatch(token or ""):
            return match.group("prefix")
    return ""


def token_matches(token: str | None, stored_hash: str | None) -> bool:
    """Whether `token` is the one `stored_hash` was made from, in constant time; with no stored
    hash (no row has its prefix) the comparison is made all the same and fails."""
    matches = hmac.compare_digest(token_hash(token or ""), stored_hash or _NO_SUCH_TOKEN)
    return matches and stored_hash is not None
