"""The demo's fixed cast: the fast plan, the superuser, the reviewers, the content pool and the
bots. Each `ensure_` function adds what is missing and leaves what exists (safe to run again)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from reviews.permissions import (
    REVIEW_LEADS_GROUP,
    REVIEWERS_GROUP,
    reviewers_group,
    role_group,
)
from tools.demo.material import CONTENT, DEMO_BOTS, DEMO_REVIEWERS
from warmup.models import Bot, ContentItem, PhaseTemplate, WarmupPlan
from warmup.services.bots import bot_create
from warmup.services.content import content_create

ADMIN_USERNAME = "admin"
FAST_PLAN = "demo-fast"
M, D = timedelta(minutes=1), timedelta(days=1)
# The fast plan moves while a person watches: steps 20 s apart, a hung bot's lease expires
# after 2 minutes, and retries come back within seconds to a couple of minutes.
FAST_DELAY = timedelta(seconds=20)
FAST_LEASE = timedelta(minutes=2)
FAST_RETRIES = {
    category: {"backoff_base": 15, "backoff_cap": 120}
    for category in (
        "network_error",
        "proxy_error",
        "rate_limited",
        "bot_error",
        "lease_expired",
        "unknown",
    )
}


def ensure_fast_plan() -> WarmupPlan:
    """The default plan's steps seconds apart instead of hours or days, so the simulated bots
    of `run_demo` keep finding work; marked for simulation, the only plan those bots claim
    from (one made before the mark existed gets it too). A plan is configuration, not status:
    made directly."""
    default = WarmupPlan.objects.get(slug="default")
    plan, created = WarmupPlan.objects.get_or_create(
        slug=FAST_PLAN,
        defaults={
            "name": "Demo: warmup in minutes",
            "description": "The default steps seconds apart, short leases and retries.",
            "is_simulation": True,
        },
    )
    if not plan.is_simulation:
        plan.is_simulation = True
        plan.save(update_fields=["is_simulation"])
    if created:
        for template in default.templates.order_by("order"):
            PhaseTemplate.objects.create(
                plan=plan,
                order=template.order,
                phase_type=template.phase_type,
                name=template.name,
                requires_content=template.requires_content,
                delay=min(template.delay, FAST_DELAY),
                lease_duration=FAST_LEASE,
                retry_overrides=FAST_RETRIES,
            )
    return plan


def ensure_admin(password: str | None = None) -> tuple[object, str, bool]:
    """Create or reset the demo superuser; returns (user, password, created)."""
    User = get_user_model()
    password = password or secrets.token_urlsafe(12)
    user = User.objects.filter(username=ADMIN_USERNAME).first()
    created = user is None
    if created:
        user = User.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", password)
    else:
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
    return user, password, created


# Users who log in as one role each, so a newcomer sees what a reviewer and a lead see.
ROLE_USERS = {"reviewer": REVIEWERS_GROUP, "lead": REVIEW_LEADS_GROUP}


def ensure_role_users(password: str | None = None) -> dict[str, str]:
    """Create or reset one staff user per role; returns {username: password}."""
    User = get_user_model()
    passwords = {}
    for username, group in ROLE_USERS.items():
        user, _ = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff, user.is_active, user.is_superuser = True, True, False
        passwords[username] = password or secrets.token_urlsafe(12)
        user.set_password(passwords[username])
        user.save()
        user.groups.add(role_group(group))
    return passwords


def ensure_reviewers() -> dict:
    User = get_user_model()
    group = reviewers_group()
    reviewers = {}
    for username, first, last in DEMO_REVIEWERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@example.com",
                is_staff=True,
            )
            user.set_unusable_password()
            user.save()
            user.groups.add(group)
        reviewers[first.lower()] = user
    return reviewers


def ensure_content() -> int:
    """Add the demo content items that are not in the pool yet."""
    added = 0
    for phase_type, items in CONTENT.items():
        for title, body, media_url in items:
            if ContentItem.objects.filter(phase_type=phase_type, title=title).exists():
                continue
            item = content_create(
                phase_type=phase_type, title=title, body=body, media_url=media_url
            )
            ContentItem.objects.filter(pk=item.pk).update(created_at=item.created_at - 7 * D)
            added += 1
    return added


def ensure_bots() -> tuple[list[Bot], dict]:
    created = {}
    for name in DEMO_BOTS:
        if not Bot.objects.filter(name=name).exists():
            bot, token = bot_create(name=name)
            created[bot.name] = token
    bots = list(Bot.objects.filter(name__in=DEMO_BOTS).order_by("name"))
    Bot.objects.filter(pk__in=[b.pk for b in bots]).update(last_seen_at=timezone.now() - 2 * M)
    return bots, created
