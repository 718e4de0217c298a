"""seed_demo on one shared seeded database (seeding takes seconds; every test here reads it,
and each test's own writes are rolled back). Option tests are in test_seed_demo_options.py."""

from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from reviews.models import ReviewLog
from tests.warmup.commands.conftest import run
from tools.demo.scenarios import SCENARIOS
from tools.demo.seed import demo_usernames
from warmup.domain.choices import ResolutionMethod, ReviewAction
from warmup.models import (
    Account,
    AccountStatus,
    Bot,
    ContentItem,
    FailureCategory,
    PhaseAttempt,
    PhaseStatus,
    Platform,
    WarmupPhase,
    WarmupPlan,
)
from warmup.selectors import analytics
from warmup.services.review_hours import review_hours_count_due

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The output of one `seed_demo` run, kept in a transaction rolled back after the module."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield run("seed_demo")
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def queue():
    return WarmupPhase.objects.filter(status=PhaseStatus.REVIEW_REQUIRED)


def test_accounts_on_every_platform_and_phases_in_every_status(seeded):
    assert set(Account.objects.values_list("platform", flat=True)) == set(Platform.values)
    assert set(WarmupPhase.objects.values_list("status", flat=True)) == set(PhaseStatus.values)
    assert Account.objects.filter(plan__slug="default").count() == 30
    assert "Accounts: enrolled 30 demo accounts on plan 'default' and 20 on the fast plan" in (
        seeded.stdout
    )


def test_live_accounts_wait_on_a_fast_plan_for_the_simulated_bots(seeded):
    live = Account.objects.filter(plan__slug="demo-fast")
    delays = set(WarmupPlan.objects.get(slug="demo-fast").templates.values_list("delay", flat=True))

    assert live.count() == 20
    assert max(delays) <= timedelta(minutes=1)
    assert set(live.values_list("platform", flat=True)) == set(Platform.values)
    firsts = WarmupPhase.objects.filter(account__in=live, order=1)
    assert set(firsts.values_list("status", flat=True)) == {PhaseStatus.AVAILABLE}
    # the simulated bots may work the fast plan only: it alone is marked for simulation
    marked = WarmupPlan.objects.filter(is_simulation=True).values_list("slug", flat=True)
    assert list(marked) == ["demo-fast"]


def stage(account) -> str:
    """Where the account is: its active phase's status, else pending or (all done) completed."""
    statuses = [p.status for p in account.phases.all()]
    active = [s for s in statuses if s not in (PhaseStatus.PENDING, PhaseStatus.COMPLETED)]
    if active:
        return active[0]
    return PhaseStatus.PENDING if PhaseStatus.PENDING in statuses else PhaseStatus.COMPLETED


def test_every_account_ends_where_its_story_says(seeded):
    names = demo_usernames(30)
    accounts = {(a.platform, a.username): a for a in Account.objects.prefetch_related("phases")}

    for i, key in enumerate(names):
        assert stage(accounts[key]) == SCENARIOS[i % len(SCENARIOS)].stage, (key, i)


def test_every_platform_has_accounts_at_several_stages(seeded):
    for platform in Platform.values:
        accounts = Account.objects.filter(platform=platform).prefetch_related("phases")
        stages = {stage(account) for account in accounts}
        assert len(stages) >= 4, (platform, stages)
        assert PhaseStatus.REVIEW_REQUIRED in stages


def test_content_pool_and_bots(seeded):
    types = dict(ContentItem.objects.values_list("phase_type").annotate(n=Count("id")))
    assert set(types) == {"profile_bio", "avatar", "first_post", "first_story"}
    assert min(types.values()) >= 3
    assert all(
        url.startswith("https://example.com/")
        for url in ContentItem.objects.exclude(media_url="").values_list("media_url", flat=True)
    )
    assert 3 <= Bot.objects.count() <= 4


def test_the_review_queue_has_items_of_several_ages_and_escalation_levels(seeded):
    now = timezone.now()
    levels = set(queue().values_list("escalation_level", flat=True))
    ages = [now - since for since in queue().values_list("review_required_since", flat=True)]

    assert queue().count() >= 6
    assert levels == {0, 1, 2, 3}
    assert min(ages) < timedelta(hours=1)
    assert max(ages) > timedelta(days=1)
    # Every raised level was logged by the escalation service.
    for phase in queue().filter(escalation_level__gt=0):
        raised = phase.review_logs.filter(action=ReviewAction.ESCALATION_RAISED)
        assert raised.count() == phase.escalation_level
    assert queue().exclude(review_assignee=None).exists()
    assert queue().filter(review_assignee=None).exists()


def test_failures_of_every_kind_a_reviewer_sees(seeded):
    categories = set(
        PhaseAttempt.objects.exclude(failure_category="").values_list("failure_category", flat=True)
    )
    assert {
        FailureCategory.CHALLENGE_REQUIRED,
        FailureCategory.LOGIN_FAILED,
        FailureCategory.RATE_LIMITED,
        FailureCategory.PROXY_ERROR,
        FailureCategory.NETWORK_ERROR,
        FailureCategory.CONTENT_REJECTED,
        FailureCategory.ACCOUNT_SUSPENDED,
        FailureCategory.LEASE_EXPIRED,
    } <= categories
    # A retried phase waits for its backoff; an exhausted one is in review.
    assert WarmupPhase.objects.filter(
        status=PhaseStatus.CONTENT_ASSIGNED, retry_count__gt=0, next_attempt_at__gt=timezone.now()
    ).exists()
    assert queue().filter(retry_count=3, last_failure_category="proxy_error").exists()
    suspended = Account.objects.get(status=AccountStatus.SUSPENDED)
    assert suspended.phases.filter(
        status=PhaseStatus.REVIEW_REQUIRED, last_failure_category="account_suspended"
    ).exists()


def test_resolved_history_with_reason_codes_notes_comments_and_a_recategorisation(seeded):
    resolutions = ReviewLog.objects.exclude(resolution_method="")

    assert set(resolutions.values_list("resolution_method", flat=True)) == set(
        ResolutionMethod.values
    )
    assert not resolutions.filter(reason_code="").exists()
    assert not resolutions.filter(note="").exists()
    assert max(resolutions.values_list("time_in_review", flat=True)) > timedelta(hours=12)
    assert ReviewLog.objects.filter(action=ReviewAction.COMMENTED).exists()
    recategorised = ReviewLog.objects.get(action=ReviewAction.RECATEGORIZED)
    assert recategorised.data == {"from": "unknown", "to": "challenge_required"}
    # A resumed phase that a bot then completed: a resolution that worked.
    resumed = resolutions.filter(resolution_method="resume", phase__status="completed")
    assert resumed.filter(phase__completion_method="bot").exists()


def test_no_admin_without_the_flag(seeded):
    assert not get_user_model().objects.filter(username="admin").exists()
    assert "password" not in seeded.stdout


def test_running_it_twice_does_not_crash_or_duplicate(seeded):
    counts = (Account.objects.count(), ContentItem.objects.count(), Bot.objects.count())

    out = run("seed_demo")

    assert "demo data already present (50 demo accounts)" in out.stdout
    assert (Account.objects.count(), ContentItem.objects.count(), Bot.objects.count()) == counts


def test_the_dashboard_counts_what_the_stories_wrote(seeded):
    # given: the scheduler's ticks after the seeding, all at once
    while review_hours_count_due(now=timezone.now()):
        pass

    # then: the days the dashboard reads (kept hours and the rest) are the log's own counts,
    # though each story wrote its past after the ticks of the stories before it counted it
    since = timezone.now() - timedelta(days=90)
    from_the_log = Counter()
    for (hour, measure, key), n in analytics.hourly_counts(since=since, until=None).items():
        from_the_log[(hour.date(), measure, key)] += n
    assert from_the_log[(timezone.now().date(), "entered", "")] > 0
    assert analytics.daily_counts(since=since, until=None) == from_the_log
