"""Small helpers for text people read: counts in summaries, messages and command output."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """'1 row', '2 rows' ('1 content item', '3 content items'; or the plural you give)."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural_noun or noun + 's'}"


def breakdown(values: Iterable[str]) -> str:
    """'instagram 2, tiktok 1' for a summary line."""
    counts = Counter(values)
    return ", ".join(f"{key} {counts[key]}" for key in sorted(counts))
