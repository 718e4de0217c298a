"""A review log checkpoint: what is signed, how, and its one-line JSON form. Pure functions, no
Django (the writer is `warmup.services.checkpoints`, the checker `warmup.selectors.integrity`).

A checkpoint states, for the log rows up to `last_row` (an id): how many there are (`rows`), how
many chains they form (`chains`), and the RFC 6962 Merkle root (`warmup.domain.merkle`) over
every chain's head, the last row of the chain up to `last_row`. One leaf per chain, the bytes

    "<kind>:<chain id>:<row id>:<row hash>"      e.g. "phase:12:345:9f86d0...", ASCII

with kind `phase` (a phase's chain) or `account` (an account's rows without a phase), in the
order (kind, chain id): every account chain by account id, then every phase chain by phase id.

The statement is the JSON object of `STATEMENT_FIELDS` with sorted keys and no spaces, UTF-8;
`mac` is its HMAC-SHA256 (hex) under the key from the environment (REVIEW_LOG_CHECKPOINT_KEY),
which the database never holds: whoever can rewrite the log cannot sign a checkpoint for it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from warmup.domain.merkle import merkle_root

# The kinds of chain (warmup.lifecycle.chain.chain_of), in leaf order.
CHAIN_KINDS = ("account", "phase")

STATEMENT_FIELDS = ("number", "created_at", "last_row", "rows", "chains", "root")

_HEX64 = re.compile(r"[0-9a-f]{64}")


def head_leaf(kind: str, chain_id: int, row_id: int, row_hash: str) -> bytes:
    """The leaf of one chain's head."""
    return f"{kind}:{chain_id}:{row_id}:{row_hash}".encode("ascii")


def heads_root(heads: Iterable[tuple[str, int, int, str]]) -> tuple[str, int]:
    """The Merkle root (hex) over (kind, chain id, row id, hash) heads given in leaf order, and
    how many there were."""
    count = 0

    def leaves() -> Iterator[bytes]:
        nonlocal count
        for head in heads:
            count += 1
            yield head_leaf(*head)

    root = merkle_root(leaves()).hex()
    return root, count


@dataclass(frozen=True)
class Statement:
    """What a checkpoint says; `mac` is empty until signed."""

    number: int
    created_at: datetime
    last_row: int
    rows: int
    chains: int
    root: str
    mac: str = ""

    def message(self) -> bytes:
        """The signed bytes."""
        content = {name: getattr(self, name) for name in STATEMENT_FIELDS}
        content["created_at"] = _timestamp(self.created_at)
        return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()

    def signed(self, key: str) -> Statement:
        return Statement(**{**asdict(self), "mac": sign(self.message(), key)})

    def verifies(self, key: str) -> bool:
        return hmac.compare_digest(self.mac, sign(self.message(), key))

    def line(self) -> str:
        """The one-line JSON form (the log line's fields; `--checkpoint` reads it back)."""
        content = json.loads(self.message())
        content["mac"] = self.mac
        return json.dumps(content, sort_keys=True, separators=(",", ":"))


def sign(message: bytes, key: str) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


BAD_TIME = "created_at is not a time like 2026-01-31T12:00:00.000000Z"


class BadCheckpointLine(ValueError):
    """A `--checkpoint` value that is neither a number nor a checkpoint's JSON line."""


def parse_line(text: str) -> Statement:
    """A Statement from its JSON line (extra fields, such as a log line's, are ignored);
    BadCheckpointLine saying what is wrong otherwise."""
    try:
        content = json.loads(text)
    except ValueError as exc:
        raise BadCheckpointLine(f"not JSON ({exc})") from None
    if not isinstance(content, dict):
        raise BadCheckpointLine("not a JSON object")
    missing = [name for name in (*STATEMENT_FIELDS, "mac") if name not in content]
    if missing:
        raise BadCheckpointLine(f"it lacks {', '.join(missing)}")
    for name in ("number", "last_row", "rows", "chains"):
        value = content[name]
        if type(value) is not int or value < 0:
            raise BadCheckpointLine(f"{name} is not a whole number")
    for name in ("root", "mac"):
        if not isinstance(content[name], str) or not _HEX64.fullmatch(content[name]):
            raise BadCheckpointLine(f"{name} is not 64 hex digits")
    try:
        created_at = datetime.strptime(str(content["created_at"]), "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        raise BadCheckpointLine(BAD_TIME) from None
    return Statement(
        number=content["number"],
        created_at=created_at.replace(tzinfo=UTC),
        last_row=content["last_row"],
        rows=content["rows"],
        chains=content["chains"],
        root=content["root"],
        mac=content["mac"],
    )
