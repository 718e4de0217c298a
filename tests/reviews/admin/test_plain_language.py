"""The account page, a review-log row and the pause confirmation say what happened in words a
reviewer reads, not in the codes stored behind them (issue #18)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from reviews.models import ReviewLog
from tests.browser import log_in, shot, with_password
from tests.builders import fail, first_phase, reload
from tests.factories import AccountFactory, UserFactory
from warmup.domain.actors import Actor
from warmup.domain.choices import ReviewAction
from warmup.services.bot_work import phase_claim
from warmup.services.review import review_hold
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db

# What a code looks like on a page: a word joined to another by an underscore.
CODES = ("profile_bio", "review_required", "in_progress", "content_assigned", "challenge_required")


@pytest.fixture
def lead(db):
    return with_password(UserFactory(lead=True, username="alice"))


@pytest.fixture
def in_review(account, bot):
    """The account's first step failed with a challenge: it waits for review."""
    tick()
    phase = phase_claim(bot=bot)
    fail(phase, bot, category="challenge_required", reason="SMS code asked")
    return reload(phase)


@pytest.fixture
def held(content_pool, lead):
    """An account's first step, held for review by alice."""
    account = AccountFactory()
    tick()
    phase = first_phase(account)
    review_hold(phase_id=phase.pk, note="Owner asked us to wait", actor=Actor.for_user(lead))
    return ReviewLog.objects.get(action=ReviewAction.HELD)


def when(moment) -> str:
    return date_format(timezone.localtime(moment), "j M H:i")


def visible_text(html: str) -> str:
    """The page's text as a person reads it (tags and attribute values dropped)."""
    import re

    body = html.split("<body", 1)[-1]
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_a_log_row_is_titled_by_what_happened_who_when_and_to_which_step(client, lead, held):
    client.force_login(lead)

    page = client.get(reverse("admin:reviews_reviewlog_change", args=[held.pk])).content.decode()

    title = (
        f"Held for review by alice on {when(held.created_at)}: "
        f"Step 1, Set profile bio of {held.account}"
    )
    assert str(held) == title
    text = visible_text(page)
    assert title in text
    assert not [code for code in CODES if code in text]


def test_the_log_list_names_the_step_not_its_code(client, lead, held):
    client.force_login(lead)

    text = visible_text(client.get(reverse("admin:reviews_reviewlog_changelist")).content.decode())

    assert f"{held.account} \N{MIDDLE DOT} Step 1, Set profile bio" in text
    assert not [code for code in CODES if code in text]


def test_the_account_page_reads_steps_and_statuses_in_words(client, lead, in_review):
    client.force_login(lead)
    account = in_review.account

    change = client.get(reverse("admin:warmup_account_change", args=[account.pk]))
    listing = client.get(reverse("admin:warmup_account_changelist"))

    text = visible_text(change.content.decode())
    assert "Step 1, Set profile bio" in text
    assert "Escalated to review" in text
    assert not [code for code in CODES if code in text], text
    listed = visible_text(listing.content.decode())
    assert "Step 1, Set profile bio: review required" in listed
    assert not [code for code in CODES if code in listed]


def test_the_pause_confirmation_says_what_pausing_does_in_plain_words(client, lead, account):
    client.force_login(lead)

    response = client.post(
        reverse("admin:warmup_account_changelist"),
        {"action": "pause_accounts", ACTION_CHECKBOX_NAME: [account.pk]},
    )

    text = visible_text(response.content.decode())
    assert "No bot starts work on these accounts until they are reactivated;" in text
    assert f"{account} (currently active)" in text
    assert "Nothing of these accounts" not in text
    assert "\N{EM DASH} now active" not in text


# --- In a browser: the three pages as a reviewer sees them --------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.usefixtures("default_plan")
def test_the_three_pages_in_a_browser(page, lead, in_review, held):
    log_in(page, lead)
    account = in_review.account

    page.goto(reverse("admin:warmup_account_change", args=[account.pk]))
    shot(page, "plain-account")
    assert "Step 1, Set profile bio" in page.inner_text("#content")

    page.goto(reverse("admin:reviews_reviewlog_change", args=[held.pk]))
    shot(page, "plain-log-row")
    assert page.inner_text("h2, h1").strip() != ""
    assert f"Held for review by alice on {when(held.created_at)}" in page.inner_text("#content")

    page.goto(reverse("admin:reviews_reviewlog_changelist"))
    shot(page, "plain-log-list")
    assert "Step 1, Set profile bio" in page.inner_text("#result_list")

    page.goto(reverse("admin:warmup_account_changelist"))
    shot(page, "plain-account-list")
    page.check(f"input[name='{ACTION_CHECKBOX_NAME}'][value='{account.pk}']")
    page.select_option("select[name=action]", "pause_accounts")
    page.click("button[name=index]")
    shot(page, "plain-pause-confirmation")
    assert "until they are reactivated" in page.inner_text("#content")
