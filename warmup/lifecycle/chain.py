"""The ReviewLog hash chain: what of a row is hashed, and how.

Every ReviewLog row carries `hash`, a SHA-256 over its canonical content and `previous_hash`,
the hash of the row before it in the same chain. A phase's rows form one chain; rows without a
phase (account events while no phase was active) form one chain per account. A row changed,
removed or inserted behind the app's back then no longer matches its hash, or the next row no
longer names it as its previous one.

The canonical content is a JSON object with sorted keys and no spaces, UTF-8 encoded, of the
fields below (by attribute name) and `previous_hash`: date-times as ISO 8601 in UTC with
microseconds and a Z, durations as whole microseconds, UUIDs in their hyphenated lower-case
form, `data` as stored. The row's id is left out: a bulk insert hashes rows before the
database numbers them. This module is the one definition: the writers
(`warmup.lifecycle.review_log`), the checker (`warmup.selectors.integrity`) and the migration that
filled the chains all call it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

# The hashed fields of a row, as attribute names (foreign keys by their id).
CHAINED_FIELDS = (
    "phase_id",
    "account_id",
    "action",
    "actor_type",
    "actor_user_id",
    "actor_bot_id",
    "from_status",
    "to_status",
    "failure_category",
    "retry_count",
    "escalation_level",
    "resolution_method",
    "reason_code",
    "note",
    "time_in_review",
    "data",
    "created_at",
    "batch",
    # Hashed only when set (see `canonical`): rows written before signatures existed keep the
    # hashes they were written with.
    "signature_id",
)
_HASHED_WHEN_SET = frozenset({"signature_id"})

# The previous hash of a chain's first row.
CHAIN_START = ""


def chain_of(phase_id: int | None, account_id: int) -> tuple[str, int]:
    """The chain a row belongs to: its phase's, or (no phase) its account's."""
    return ("phase", phase_id) if phase_id is not None else ("account", account_id)


# Values hashed as they are; the type test first keeps a bulk run's ten thousand rows cheap.
_AS_THEY_ARE = frozenset({str, int, bool, float, dict, list, type(None)})


def _encode(value: Any) -> Any:
    if type(value) in _AS_THEY_ARE:
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, timedelta):
        return value // timedelta(microseconds=1)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def canonical(values: dict[str, Any], previous_hash: str) -> bytes:
    """The bytes hashed for a row whose CHAINED_FIELDS have `values`."""
    content = {
        name: _encode(values[name])
        for name in CHAINED_FIELDS
        if name not in _HASHED_WHEN_SET or values.get(name) is not None
    }
    if content["batch"] is not None:
        content["batch"] = str(uuid.UUID(str(content["batch"])))
    content["previous_hash"] = previous_hash
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(values: dict[str, Any], previous_hash: str) -> str:
    """The SHA-256 (hex) of a row's canonical content."""
    return hashlib.sha256(canonical(values, previous_hash)).hexdigest()


def values_of(row) -> dict[str, Any]:
    """The CHAINED_FIELDS of a ReviewLog instance (saved or not)."""
    return {name: getattr(row, name) for name in CHAINED_FIELDS}
