"""Small helpers for text people read: counts in summaries, messages and command output."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """'1 row', '2 rows' ('1 content item', '3 content items'; or the plural you give)."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural_noun or noun + 's'}"


def step_display(order: int, name: str) -> str:
    """A plan step as people name it: 'Step 1, Set profile bio' (its order and its name, never
    its phase_type code)."""
    return f"Step {order}, {name}"


def breakdown(values: Iterable[str]) -> str:
    """'instagram 2, tiktok 1' for a summary line."""
    counts = Counter(values)
    return ", ".join(f"{key} {counts[key]}" for key in sorted(counts))


def age_display(since) -> str:
    """How long ago `since` was, as a person says it: '42 min', '3 h 12 min', '2 d 5 h'."""
    if since is None:
        return "-"
    return duration_display(max(timezone.now() - since, timedelta(0)))


def duration_display(duration) -> str:
    """A length of time as a person says it: '45 s', '12 min', '1 h', '3 h 12 min', '2 d 5 h'.
    Takes a timedelta or seconds."""
    seconds = int(duration.total_seconds() if hasattr(duration, "total_seconds") else duration)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    hours, minutes = seconds // 3600, seconds % 3600 // 60
    if seconds < 2 * 86400:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = seconds // 86400, seconds % 86400 // 3600
    return f"{days} d {hours} h" if hours else f"{days} d"


# What a spreadsheet may read as the start of a formula (OWASP's CSV injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A CSV cell a spreadsheet will not run: text starting with = + - @, a tab or a carriage
    return (a username, bot or phase name someone chose) gets a leading apostrophe. Numbers
    pass as they are."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def write_csv(out, rows: Iterable[Iterable], *, lineterminator: str = "\r\n") -> None:
    """Write `rows` to the file-like `out` as CSV, every cell through `spreadsheet_safe` and
    None as an empty cell. The one writer of the CSV people open in a spreadsheet."""
    writer = csv.writer(out, lineterminator=lineterminator)
    for row in rows:
        writer.writerow(["" if cell is None else spreadsheet_safe(cell) for cell in row])
