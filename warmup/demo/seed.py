"""Seeding the demo: a believable fleet mid-warmup, built only through the services.

Each demo account follows a scripted story (completed, retried, escalated, resolved, ...). The
scripts drive the real services: the scheduler tick, bot claims and reports, review actions.
Status is never assigned here. To give the stories their ages, timestamps that are not status
(claimed_at, review_required_since, created_at, ...) are moved back afterwards with
QuerySet.update(); ReviewLog rows keep the time they were written (they are append-only).
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from reviews.models import ReviewLog
from reviews.permissions import reviewers_group
from reviews.services import (
    review_assign,
    review_comment,
    review_hold,
    review_recategorize,
    review_resolve,
    reviews_escalate_due,
)
from warmup.actors import Actor
from warmup.demo.material import (
    CONTENT,
    DEMO_BOTS,
    DEMO_REVIEWERS,
    FAILURES,
    USERNAME_FIRST,
    USERNAME_SECOND,
)
from warmup.demo.scenarios import SCENARIOS, Scenario
from warmup.models import (
    ACTIVE_STATUSES,
    Account,
    Bot,
    ContentItem,
    PhaseAttempt,
    PhaseStatus,
    PhaseTemplate,
    Platform,
    WarmupPhase,
    WarmupPlan,
)
from warmup.scheduler import tick
from warmup.services.accounts import account_enrol, account_reactivate
from warmup.services.bots import bot_create
from warmup.services.content import content_create
from warmup.services.phases import claimable_phases, phase_claim, phase_complete, phase_fail

S = PhaseStatus
ADMIN_USERNAME = "admin"
ADMIN_URL = "http://127.0.0.1:8000/admin/"
DEFAULT_ACCOUNTS = 30
DEFAULT_LIVE = 20
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

# --- The seeding ---------------------------------------------------------------------------


@dataclass
class SeedReport:
    content_added: int = 0
    bots_created: dict = field(default_factory=dict)  # name -> token
    accounts_created: int = 0
    live_created: int = 0
    accounts_existing: int = 0
    admin_password: str | None = None
    admin_created: bool = False


class DemoError(Exception):
    """The demo could not be built as scripted (another process changed the data meanwhile)."""


def _name_pairs() -> list[tuple[str, str]]:
    pairs = [(a, b) for a in USERNAME_FIRST for b in USERNAME_SECOND]
    random.Random(20240601).shuffle(pairs)
    return pairs


def _username(pairs, i: int) -> str:
    first, second = pairs[i % len(pairs)]
    return f"{first}_{second}" + (f"{i // len(pairs)}" if i >= len(pairs) else "")


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
        names.append((platform, _username(pairs, i)))
    return names


def live_usernames(count: int) -> list[tuple[str, str]]:
    """(platform, username) of the accounts on the fast plan, taken from the other end of the
    name list so they do not meet the story accounts."""
    pairs, platforms = _name_pairs()[::-1], Platform.values
    return [(platforms[i % len(platforms)], _username(pairs, i)) for i in range(count)]


def existing_demo_accounts(accounts: int, live: int) -> int:
    names = set(demo_usernames(max(accounts, len(SCENARIOS))))
    names |= set(live_usernames(max(live, DEFAULT_LIVE)))
    found = set(
        Account.objects.filter(username__in=[u for _, u in names]).values_list(
            "platform", "username"
        )
    )
    return len(found & names)


def ensure_fast_plan() -> WarmupPlan:
    """The default plan's steps seconds apart instead of hours or days, so the simulated bots
    of `run_demo` keep finding work. A plan is configuration, not status: made directly."""
    default = WarmupPlan.objects.get(slug="default")
    plan, created = WarmupPlan.objects.get_or_create(
        slug=FAST_PLAN,
        defaults={
            "name": "Demo: warmup in minutes",
            "description": "The default steps seconds apart, short leases and retries.",
        },
    )
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
        if live > 0:
            fast = ensure_fast_plan()
            for platform, username in set(live_usernames(live)) - set(names):
                account_enrol(platform=platform, username=username, plan=fast)
    report.accounts_created = accounts
    report.live_created = live
    return report


# --- Driving one account through its story --------------------------------------------------


class Storyteller:
    """Drives one account at a time through its scenario with the real services: the
    scheduler tick, bot claims and reports, review actions."""

    def __init__(self, *, bots, people, plan):
        self.bots = bots
        self.people = people
        self.plan = plan
        self.rng = random.Random(7)
        self.count = 0

    def tell(self, scenario: Scenario, *, platform: str, username: str) -> Account:
        account = account_enrol(platform=platform, username=username, plan=self.plan)
        self.count += 1
        aged = False
        for step in scenario.steps:
            op, *args = (step,) if isinstance(step, str) else step
            if op == "age":
                if aged:
                    raise ValueError(f"scenario {scenario.name}: one 'age' step at most")
                aged = True
            getattr(self, f"_{op}")(account, *args)
        return account

    # Bot side ------------------------------------------------------------------------------

    def _bot(self, phase) -> Bot:
        return self.bots[(self.count + phase.attempt_count) % len(self.bots)]

    def _current(self, account) -> WarmupPhase | None:
        phases = WarmupPhase.objects.filter(account=account).select_related("template")
        return (
            phases.filter(status__in=ACTIVE_STATUSES).first()
            or phases.filter(status=S.PENDING).order_by("order").first()
        )

    def _make_claimable(self, account) -> WarmupPhase:
        phase = self._current(account)
        if phase.status == S.PENDING:
            # The delay after the previous phase "has passed".
            WarmupPhase.objects.filter(pk=phase.pk).update(available_at=timezone.now())
        if phase.status in (S.PENDING, S.AVAILABLE):
            tick()
            phase = self._current(account)
        if phase.status == S.CONTENT_ASSIGNED and phase.next_attempt_at > timezone.now():
            # The retry backoff "has passed".
            WarmupPhase.objects.filter(pk=phase.pk).update(next_attempt_at=timezone.now())
        if phase.status != S.CONTENT_ASSIGNED:
            raise DemoError(f"{account}: expected a claimable phase, found {phase}")
        return phase

    def _claim(self, account) -> WarmupPhase:
        phase = self._make_claimable(account)
        # Claims go to the phase waiting longest; put this one first in line.
        earliest = (
            claimable_phases(now=timezone.now())
            .exclude(pk=phase.pk)
            .aggregate(at=Min("next_attempt_at"))["at"]
        )
        if earliest is not None:
            WarmupPhase.objects.filter(pk=phase.pk).update(
                next_attempt_at=min(timezone.now(), earliest - timedelta(seconds=1))
            )
        claimed = phase_claim(
            bot=self._bot(phase), platforms=[account.platform], phase_types=[phase.phase_type]
        )
        if claimed is None or claimed.pk != phase.pk:
            raise DemoError(f"{account}: another process claimed a phase while seeding")
        return claimed

    def _ok(self, account):
        phase = self._claim(account)
        result = {"url": f"https://example.com/{account.username}/{phase.phase_type}"}
        phase_complete(
            phase_id=phase.pk, bot=phase.bot, lease_token=phase.lease_token, result=result
        )

    def _fail(self, account, category):
        phase = self._claim(account)
        reason, details = FAILURES[category]
        phase_fail(
            phase_id=phase.pk,
            bot=phase.bot,
            lease_token=phase.lease_token,
            category=category,
            reason=reason.format(platform=account.get_platform_display()),
            details={**details, "phase_type": phase.phase_type},
        )

    def _expire(self, account):
        phase = self._claim(account)
        WarmupPhase.objects.filter(pk=phase.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        tick()

    def _ready(self, account):
        self._make_claimable(account)

    # Reviewer side -------------------------------------------------------------------------

    def _actor(self, who) -> Actor:
        return Actor.for_user(self.people[who])

    def _in_review(self, account) -> WarmupPhase:
        return WarmupPhase.objects.get(account=account, status=S.REVIEW_REQUIRED)

    def _assign(self, account, who):
        review_assign(
            phase_id=self._in_review(account).pk, assignee=self.people[who], actor=self._actor(who)
        )

    def _comment(self, account, who, note):
        review_comment(phase_id=self._current(account).pk, note=note, actor=self._actor(who))

    def _recategorize(self, account, who, category, note):
        review_recategorize(
            phase_id=self._in_review(account).pk,
            category=category,
            note=note,
            actor=self._actor(who),
        )

    def _hold(self, account, who, note):
        review_hold(phase_id=self._current(account).pk, note=note, actor=self._actor(who))

    def _resolve(self, account, who, method, reason_code, note):
        review_resolve(
            phase_id=self._in_review(account).pk,
            method=method,
            reason_code=reason_code,
            note=note,
            actor=self._actor(who),
        )

    def _reactivate(self, account, who, note):
        account_reactivate(account=account, actor=self._actor(who), note=note)

    # Time ----------------------------------------------------------------------------------

    def _age(self, account, age: timedelta):
        backdate(account, age, rng=self.rng)
        reviews_escalate_due(now=timezone.now())


def backdate(account: Account, age: timedelta, *, rng: random.Random) -> None:
    """Move the account's history back in time: its latest event happened `age` ago, each
    earlier phase a template delay (plus a little) before the next one, and the attempts of a
    phase their backoff apart. Only non-status timestamps change; future ones (a pending
    phase's unlock time, a retry, a lease) stay as the services set them, unless the pending
    phase's unlock time can move back and stay in the future."""
    now = timezone.now()
    phases = list(WarmupPhase.objects.filter(account=account).select_related("template"))
    done = [p for p in phases if p.status != S.PENDING]
    if not done:
        return
    current = max(done, key=lambda p: p.order)
    offsets, offset = {}, age
    for phase in sorted(done, key=lambda p: p.order, reverse=True):
        offsets[phase.pk] = offset
        offset += phase.template.delay + timedelta(minutes=rng.randint(5, 40))

    earliest = now
    for phase in done:
        start = _backdate_attempts(phase, offsets[phase.pk], rng=rng)
        fields = {}
        for name in ("completed_at", "last_failure_at", "review_required_since"):
            value = getattr(phase, name)
            if value is not None:
                fields[name] = value - offsets[phase.pk]
        available = (start or now - offsets[phase.pk]) - timedelta(minutes=rng.randint(1, 9))
        fields["available_at"] = available
        earliest = min(earliest, available)
        WarmupPhase.objects.filter(pk=phase.pk).update(**fields)

    following = next(
        (p for p in sorted(phases, key=lambda p: p.order) if p.order > current.order), None
    )
    if following is not None and following.status == S.PENDING and following.available_at:
        moved = following.available_at - age
        if moved > now:
            WarmupPhase.objects.filter(pk=following.pk).update(available_at=moved)

    enrolled = earliest - timedelta(minutes=rng.randint(2, 30))
    WarmupPhase.objects.filter(account=account).update(created_at=enrolled)
    Account.objects.filter(pk=account.pk).update(created_at=enrolled)
    Account.objects.filter(pk=account.pk, status_changed_at__isnull=False).update(
        status_changed_at=now - offsets[current.pk]
    )


def _backdate_attempts(phase: WarmupPhase, offset: timedelta, *, rng) -> object:
    """Space the phase's finished attempts out, the last one ending `offset` ago; returns the
    first claim time (or None when there are none)."""
    attempts = list(
        PhaseAttempt.objects.filter(phase=phase, finished_at__isnull=False).order_by("-number")
    )
    first_claim, finish = None, None
    for attempt in attempts:
        if finish is None:
            finish = attempt.finished_at - offset
        claimed = finish - timedelta(seconds=rng.randint(40, 180))
        fields = {"claimed_at": claimed, "finished_at": finish}
        if attempt.next_attempt_at is not None:
            fields["next_attempt_at"] = finish + (attempt.next_attempt_at - attempt.finished_at)
        PhaseAttempt.objects.filter(pk=attempt.pk).update(**fields)
        first_claim = claimed
        # The attempt before this one ended its backoff (or a short while) before this claim.
        earlier = next((a for a in attempts if a.number == attempt.number - 1), None)
        if earlier is not None:
            wait = (
                earlier.next_attempt_at - earlier.finished_at
                if earlier.next_attempt_at is not None
                else timedelta(minutes=rng.randint(3, 20))
            )
            finish = claimed - wait
    return first_claim


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
