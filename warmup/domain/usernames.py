"""The usernames each platform allows, as one table: an account whose username its platform
could not have (a typo, a stray column, `=cmd|' /C calc'!A0`) is refused when it is enrolled.

Kept simple, after each platform's documented rules (letters are ASCII; an `@` in front is
removed before the check):

  instagram  1-30 letters, digits, periods and underscores
  tiktok     2-24 letters, digits, underscores and periods
  x          1-15 letters, digits and underscores
  facebook   5-50 letters, digits and periods
  youtube    3-30 letters, digits, underscores, hyphens and periods (a handle)
"""

from __future__ import annotations

import re

from warmup.domain.choices import Platform

# platform: (pattern of the whole username, the rule in words)
USERNAME_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    Platform.INSTAGRAM: (
        re.compile(r"[A-Za-z0-9._]{1,30}"),
        "1 to 30 letters, digits, periods and underscores",
    ),
    Platform.TIKTOK: (
        re.compile(r"[A-Za-z0-9_.]{2,24}"),
        "2 to 24 letters, digits, underscores and periods",
    ),
    Platform.X: (
        re.compile(r"[A-Za-z0-9_]{1,15}"),
        "1 to 15 letters, digits and underscores",
    ),
    Platform.FACEBOOK: (
        re.compile(r"[A-Za-z0-9.]{5,50}"),
        "5 to 50 letters, digits and periods",
    ),
    Platform.YOUTUBE: (
        re.compile(r"[A-Za-z0-9_.\-]{3,30}"),
        "3 to 30 letters, digits, underscores, hyphens and periods",
    ),
}

USERNAME_NOT_POSSIBLE = "{username!r} is not possible on {platform}: usernames there are {rule}"


def username_problem(*, platform: str, username: str) -> str | None:
    """Why `username` cannot be one of `platform`'s (a sentence), or None when it can."""
    entry = USERNAME_PATTERNS.get(platform)
    if entry is None:
        return None  # an unknown platform is refused by the enrolment's own check
    pattern, rule = entry
    if pattern.fullmatch(username):
        return None
    return USERNAME_NOT_POSSIBLE.format(
        username=username, platform=Platform(platform).label, rule=rule
    )
