"""Small helpers for text people read: counts in summaries, messages and command output."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.utils import timezone


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """'1 row', '2 rows' ('1 content item', '3 content items'; or the plural you give)."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural_noun or noun + 's'}"


def breakdown(values: Iterable[str]) -> str:
    """'instagram 2, tiktok 1' for a summary line."""
    counts = Counter(values)
    return ", ".join(f"{key} {counts[key]}" for key in sorted(counts))


def age_display(since) -> str:
    """How long ago `since` was, as a person says it: '42 min', '3 h 12 min', '2 d 5 h'."""
    if since is None:
        return "-"
    seconds = int((timezone.now() - since).total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
