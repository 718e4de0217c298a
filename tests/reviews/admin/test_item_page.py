"""The item page of the review console says what a reviewer needs to decide (issue #18): a
hold as its own entry, who may reactivate an account, why a failure skipped its automatic
retries, what a recategorisation changed, and what each resolution will do."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from reviews.models import ReviewItem
from tests.builders import fail, reload
from tests.clients import changelist
from tests.factories import UserFactory, WarmupPhaseFactory, new_item_in_review
from warmup.domain.choices import ResolutionMethod
from warmup.domain.text import action_effect
from warmup.models import AccountStatus, PhaseStatus
from warmup.services.bot_work import phase_claim
from warmup.services.review import review_hold, review_recategorize
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db

QUEUE = changelist(ReviewItem)
HOLD_NOTE = "Checking the proxy by hand before bots go on"


def item_url(phase):
    return reverse("admin:reviews_reviewitem_change", args=[phase.pk])


def client_of(user):
    client = Client()
    client.force_login(user)
    return client


def page_of(client, phase) -> str:
    response = client.get(item_url(phase))
    assert response.status_code == 200
    return response.content.decode()


def section(html: str, heading: str) -> str:
    """The part of the page from the module headed `heading` to the next module's heading."""
    start = html.index(f"<h2>{heading}")
    end = html.find("<h2>", start + 1)
    return html[start : end if end != -1 else None]


def row_of(html: str, phase) -> str:
    """The queue's row of `phase`."""
    marker = html.index(f'id="live-{phase.pk}"')
    return html[html.rindex("<tr", 0, marker) : html.index("</tr>", marker)]


@pytest.fixture
def reviewer_client(reviewer):
    return client_of(reviewer)


@pytest.fixture
def held_after_a_failure(bot, reviewer_actor):
    """A phase whose first try failed with a network error (retry scheduled), then held by a
    reviewer before the retry."""
    phase = WarmupPhaseFactory(content_assigned=True)
    claimed = phase_claim(bot=bot, phase_types=[phase.phase_type])
    assert claimed.pk == phase.pk
    fail(claimed, bot, "network_error", reason="Connection reset by peer")
    assert reload(phase).status == PhaseStatus.CONTENT_ASSIGNED
    review_hold(phase_id=phase.pk, note=HOLD_NOTE, actor=reviewer_actor)
    return reload(phase)


# --- 1. A hold is its own entry -----------------------------------------------------------------


def test_a_held_item_shows_the_hold_not_the_failure_before_it(
    reviewer_client, held_after_a_failure
):
    html = page_of(reviewer_client, held_after_a_failure)

    failure = section(html, "Failure")
    assert "Held by a reviewer" in failure
    assert HOLD_NOTE in failure
    assert "Network error" not in failure and "Connection reset" not in failure
    # the failure before the hold stays in the attempts
    attempts = section(html, "Attempts")
    assert "Network error" in attempts and "Connection reset by peer" in attempts


def test_the_queue_shows_a_held_item_as_held_and_its_held_filter_finds_it(
    reviewer_client, held_after_a_failure
):
    other = WarmupPhaseFactory(in_review=True, category="login_failed", retryable=False)

    listed = reviewer_client.get(QUEUE).content.decode()
    held = reviewer_client.get(QUEUE, {"category": "held"}).content.decode()

    row = row_of(listed, held_after_a_failure)
    assert "Held by a reviewer" in row and "Network error" not in row
    assert HOLD_NOTE in row
    assert str(held_after_a_failure.account) in held
    assert str(other.account) not in held


def test_the_dashboard_counts_a_held_item_as_held(reviewer_client, held_after_a_failure):
    html = reviewer_client.get(reverse("reviews-dashboard")).content.decode()

    assert "Held by a reviewer" in html
    assert "Network error" not in html


# --- 3. Who may reactivate an account ---------------------------------------------------------


def test_a_reviewer_is_told_a_review_lead_can_reactivate_the_account(reviewer_client, bot):
    phase = new_item_in_review(bot, "account_suspended")
    assert phase.account.status == AccountStatus.SUSPENDED

    actions = section(page_of(reviewer_client, phase), "Actions")

    assert "a review lead can reactivate the account" in actions
    assert "reactivate it first" not in actions
    assert 'value="reactivate_accounts"' not in actions


def test_a_review_lead_gets_the_reactivation_at_hand(bot):
    lead = UserFactory(lead=True)
    phase = new_item_in_review(bot, "account_suspended")

    actions = section(page_of(client_of(lead), phase), "Actions")

    assert "reactivate it first" in actions
    assert reverse("admin:warmup_account_changelist") in actions
    assert 'value="reactivate_accounts"' in actions
    assert f'name="_selected_action" value="{phase.account_id}"' in actions


def test_the_reactivation_of_the_item_page_asks_first_on_the_accounts_page(bot):
    lead = UserFactory(lead=True)
    phase = new_item_in_review(bot, "account_suspended")
    client = client_of(lead)

    response = client.post(
        reverse("admin:warmup_account_changelist"),
        {"action": "reactivate_accounts", "_selected_action": [phase.account_id]},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Reactivate 1 account" in html
    assert reload(phase).account.status == AccountStatus.SUSPENDED  # asked, not done


# --- 5. Why a failure skipped its automatic retries --------------------------------------------


def test_the_page_says_the_bot_marked_the_failure_not_retryable(reviewer_client, bot):
    phase = new_item_in_review(bot, "network_error")  # retryable=False from the bot

    failure = section(page_of(reviewer_client, phase), "Failure")

    assert "No automatic retry: the bot marked this failure as not retryable" in failure


def test_the_page_says_the_category_allows_no_retries(reviewer_client, bot):
    phase = WarmupPhaseFactory(in_review=True, bot=bot, category="login_failed", retryable=True)

    failure = section(page_of(reviewer_client, phase), "Failure")

    assert "No automatic retry: login failed allows none" in failure


def test_the_page_says_the_retries_ran_out(reviewer_client, bot, settings, clock):
    settings.WARMUP_RETRY_POLICY = {
        **settings.WARMUP_RETRY_POLICY,
        "network_error": {"retryable": True, "max_retries": 1, "backoff_base": 60},
    }
    phase = WarmupPhaseFactory(content_assigned=True)
    fail(phase_claim(bot=bot, phase_types=[phase.phase_type]), bot, "network_error")
    clock.shift(timedelta(minutes=5))
    tick()
    fail(phase_claim(bot=bot, phase_types=[phase.phase_type]), bot, "network_error")
    assert reload(phase).status == PhaseStatus.REVIEW_REQUIRED

    failure = section(page_of(reviewer_client, phase), "Failure")

    assert "Retried automatically 1 time, as many as network error allows" in failure


# --- 6. A recategorisation says what it changed ----------------------------------------------


def test_a_recategorisation_says_from_what_to_what(reviewer_client, bot, reviewer_actor):
    phase = WarmupPhaseFactory(in_review=True, bot=bot, category="challenge_required")
    review_recategorize(
        phase_id=phase.pk, category="proxy_error", note="The proxy was dead", actor=reviewer_actor
    )

    html = page_of(reviewer_client, phase)

    history = section(html, "Review history")
    assert "from Challenge required to Proxy error" in history
    attempts = section(html, "Attempts")
    assert "Challenge required" in attempts
    assert "recategorised as Proxy error" in attempts


# --- 7. What a resolution will do ------------------------------------------------------------


def test_the_page_says_what_resume_and_retry_will_do(reviewer_client, bot):
    phase = WarmupPhaseFactory(in_review=True, bot=bot, category="login_failed")

    actions = section(page_of(reviewer_client, phase), "Actions")

    for method in (ResolutionMethod.RESUME, ResolutionMethod.RETRY):
        words = action_effect(method)
        assert words and escape(words) in actions
    assert "bots" in action_effect(ResolutionMethod.RESUME)
    assert "same content" in action_effect(ResolutionMethod.RETRY)


def test_every_resolution_has_its_effect_in_words():
    for method in ResolutionMethod:
        assert action_effect(method).endswith(".")
    with pytest.raises(KeyError):
        action_effect("nonsense")
