"""Seeding the demo: a believable fleet mid-warmup, built only through the services.

Each demo account follows a scripted story (completed, retried, escalated, resolved, ...):
fixtures.py makes the cast (plans, people, content, bots), stories.py drives every account
through its scenario with the real services, each at the time it happened (its clock gives the
stories their ages). This module chooses the accounts, runs the whole in one transaction and
counts the result.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from reviews.models import ReviewLog
from tools.demo.fixtures import (
    ensure_admin,
    ensure_bots,
    ensure_content,
    ensure_fast_plan,
    ensure_reviewers,
    ensure_role_users,
)
from tools.demo.material import USERNAME_FIRST, USERNAME_SECOND
from tools.demo.scenarios import SCENARIOS
from tools.demo.stories import Storyteller
from warmup.models import Account, PhaseStatus, Platform, WarmupPhase, WarmupPlan
from warmup.services.accounts import account_enrol
from warmup.services.review import reviews_escalate_due
from warmup.services.review_hours import review_hours_forget

S = PhaseStatus
DEFAULT_ACCOUNTS = 30
DEFAULT_LIVE = 20


@dataclass
class SeedReport:
    content_added: int = 0
    bots_created: dict = field(default_factory=dict)  # name -> token
    accounts_created: int = 0
    live_created: int = 0
    accounts_existing: int = 0
    admin_password: str | None = None
    admin_created: bool = False
    role_passwords: dict = field(default_factory=dict)  # username -> password


# --- The demo's accounts -------------------------------------------------------------------


def _name_pairs() -> list[tuple[str, str]]:
    pairs = [(a, b) for a in USERNAME_FIRST for b in USERNAME_SECOND]
    random.Random(20240601).shuffle(pairs)
    return pairs


def _username(pairs, i: int, platform: str) -> str:
    """The i-th name, as the platform allows it (Facebook has no underscores)."""
    first, second = pairs[i % len(pairs)]
    separator = "." if platform == Platform.FACEBOOK else "_"
    return f"{first}{separator}{second}" + (f"{i // len(pairs)}" if i >= len(pairs) else "")


def demo_usernames(count: int) -> list[tuple[str, str]]:
    """(platform, username) of the story accounts, the same list on every run. Account i
    follows SCENARIOS[i % len(SCENARIOS)]; the accounts of each stage take the platforms in
    turn, so every platform shows most stages."""
    pairs, platforms = _name_pairs(), Platform.values
    stages = list(dict.fromkeys(s.stage for s in SCENARIOS))
    turns = Counter()
    names = []
    for i in range(count):
        stage = SCENARIOS[i % len(SCENARIOS)].stage
        platform = platforms[(stages.index(stage) + turns[stage]) % len(platforms)]
        turns[stage] += 1
        names.append((platform, _username(pairs, i, platform)))
    return names


def live_usernames(count: int) -> list[tuple[str, str]]:
    """(platform, username) of the accounts on the fast plan, taken from the other end of the
    name list so they do not meet the story accounts."""
    pairs, platforms = _name_pairs()[::-1], Platform.values
    return [
        (platforms[i % len(platforms)], _username(pairs, i, platforms[i % len(platforms)]))
        for i in range(count)
    ]


def existing_demo_accounts(accounts: int, live: int) -> int:
    names = set(demo_usernames(max(accounts, len(SCENARIOS))))
    names |= set(live_usernames(max(live, DEFAULT_LIVE)))
    found = set(
        Account.objects.filter(username__in=[u for _, u in names]).values_list(
            "platform", "username"
        )
    )
    return len(found & names)


# --- The seeding ---------------------------------------------------------------------------


def seed(
    *,
    accounts: int = DEFAULT_ACCOUNTS,
    live: int = DEFAULT_LIVE,
    with_admin: bool = False,
    admin_password: str | None = None,
) -> SeedReport:
    """Build the demo; safe to run again (existing demo accounts are left as they are)."""
    report = SeedReport()
    admin = None
    if with_admin:
        admin, report.admin_password, report.admin_created = ensure_admin(admin_password)
        report.role_passwords = ensure_role_users(admin_password)
    report.content_added = ensure_content()
    bots, report.bots_created = ensure_bots()
    reviewers = ensure_reviewers()
    reviewers["admin"] = admin or next(iter(reviewers.values()))

    report.accounts_existing = existing_demo_accounts(accounts, live)
    if report.accounts_existing:
        return report
    plan = WarmupPlan.objects.get(slug="default")
    with transaction.atomic():
        storyteller = Storyteller(bots=bots, people=reviewers, plan=plan)
        names = demo_usernames(accounts)
        stories = [
            (SCENARIOS[i % len(SCENARIOS)], platform, username)
            for i, (platform, username) in enumerate(names)
        ]
        # Fresh accounts last: every tick assigns content to whatever is available.
        stories.sort(key=lambda story: story[0].last)
        for scenario, platform, username in stories:
            storyteller.tell(scenario, platform=platform, username=username)
        reviews_escalate_due(now=timezone.now())
        # Each story was told on its own clock, from its past to now, with ticks that counted
        # the review log's hours the stories after it wrote into again.
        review_hours_forget()
        if live > 0:
            fast = ensure_fast_plan()
            for platform, username in set(live_usernames(live)) - set(names):
                account_enrol(platform=platform, username=username, plan=fast)
    report.accounts_created = accounts
    report.live_created = live
    return report


def enrol_fresh(count: int) -> list[Account]:
    """Enrol `count` new accounts on the fast plan, named after the ones already there, so a
    running demo always has work for its bots (the trickle of `demo_trickle`)."""
    fast = ensure_fast_plan()
    taken = set(Account.objects.values_list("platform", "username"))
    start = Account.objects.filter(plan=fast).count()
    fresh, i = [], start
    while len(fresh) < count:
        candidate = live_usernames(i + 1)[i]
        if candidate not in taken:
            fresh.append(account_enrol(platform=candidate[0], username=candidate[1], plan=fast))
            taken.add(candidate)
        i += 1
    return fresh


# --- Summaries -----------------------------------------------------------------------------


def status_counts() -> dict:
    counts = Counter(WarmupPhase.objects.values_list("status", flat=True))
    return {status: counts.get(status, 0) for status in S.values}


def queue_levels() -> dict:
    return dict(
        Counter(
            WarmupPhase.objects.filter(status=S.REVIEW_REQUIRED).values_list(
                "escalation_level", flat=True
            )
        )
    )


def resolution_count() -> int:
    return ReviewLog.objects.exclude(resolution_method="").count()
