"""What a simulated bot decides to do with a claimed phase (succeed, fail with a category from
the mix, or hang) and what it says when it fails.

Every decision is drawn from the bot's own generator in a fixed order, so a seeded run makes the
same decisions whatever the server's speed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .config import SimulationConfig

FAILURE_STORIES: dict[str, list[tuple[str, dict]]] = {
    "login_failed": [
        ("Login rejected: the password was not accepted", {"step": "login", "http_status": 400}),
        ("Two-factor code expected but none configured", {"step": "login", "2fa": "totp"}),
    ],
    "challenge_required": [
        ("Checkpoint: the platform asks for an SMS code", {"step": "login", "challenge": "sms"}),
        ("Captcha shown after login", {"step": "login", "challenge": "captcha"}),
    ],
    "rate_limited": [
        ("429 Too Many Requests from the platform", {"step": "action", "retry_after": 900}),
        ("Please wait a few minutes before you try again", {"step": "action"}),
    ],
    "action_blocked": [
        ("Action blocked: this action was blocked, try again later", {"step": "action"}),
    ],
    "account_suspended": [
        ("Account disabled for violating the terms", {"step": "login"}),
    ],
    "content_rejected": [
        ("Upload refused: the media did not pass review", {"step": "upload", "media": "image"}),
        ("Caption rejected: contains a banned word", {"step": "caption"}),
    ],
    "proxy_error": [
        ("Proxy CONNECT failed: 407 Proxy Authentication Required", {"proxy": "pool-eu-3"}),
        ("Proxy timed out after 30 s", {"proxy": "pool-us-1", "timeout_s": 30}),
    ],
    "network_error": [
        ("Connection reset by peer while uploading", {"step": "upload", "errno": 104}),
        ("TLS handshake timed out", {"step": "connect", "timeout_s": 15}),
        ("502 Bad Gateway from the platform", {"step": "action", "http_status": 502}),
    ],
    "lease_expired": [("The bot lost track of time", {})],
    "bot_error": [
        (
            "Unhandled exception: element not found: #submit",
            {"step": "action", "selector": "#submit"},
        ),
        ("Browser crashed (out of memory)", {"step": "browser"}),
    ],
    "unknown": [("Something went wrong; no more detail available", {})],
}


OUTAGE_REASON = "Proxy 10.20.{a}.{b}:3128 refused the connection"
OUTAGE_DETAILS = {"step": "connect", "proxy": "pool-outage-1"}


@dataclass(frozen=True)
class Plan:
    """What the bot decided to do with one claimed phase (drawn in a fixed order)."""

    hang: bool
    heartbeats: int
    fail_category: str | None
    retryable: bool
    story: tuple[str, dict]


def draw_plan(rng: random.Random, config: SimulationConfig, *, outage: bool = False) -> Plan:
    """Decide what to do with the next claimed phase; draws the same numbers every time, so
    the order of later decisions does not depend on this one's outcome. During a proxy
    `outage` every phase fails with proxy_error, not retryable, naming one of the pool's proxies."""
    hang = rng.random() < config.hang_rate
    heartbeats = rng.choice((0, 1, 1, 2))
    fails = rng.random() < config.fail_rate
    categories, weights = zip(*config.mix.items(), strict=True)
    category = rng.choices(categories, weights=weights)[0]
    retryable = rng.random() >= config.nonretryable_rate
    story = rng.choice(FAILURE_STORIES.get(category) or FAILURE_STORIES["unknown"])
    address = rng.randrange(256), rng.randrange(1, 255)  # drawn every time: a fixed order
    if outage:
        reason = OUTAGE_REASON.format(a=address[0], b=address[1])
        return Plan(
            hang=False,
            heartbeats=heartbeats,
            fail_category="proxy_error",
            retryable=False,
            story=(reason, dict(OUTAGE_DETAILS)),
        )
    return Plan(
        hang=hang,
        heartbeats=heartbeats,
        fail_category=category if fails else None,
        retryable=retryable,
        story=story,
    )
