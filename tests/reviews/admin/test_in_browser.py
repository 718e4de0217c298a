"""The review console in a real browser: Playwright driving Debian's Chromium against Django's
live server, as a reviewer would use it (tests/browser.py: which browser, and how)."""

from urllib.parse import urlencode

import pytest

from reviews.admin.filters import LONG_LIST
from reviews.models import ReviewLog
from tests.browser import log_in, reviewer_user, shot, with_password
from tests.factories import BotFactory, UserFactory, WarmupPhaseFactory
from warmup.domain.actors import Actor
from warmup.domain.choices import ReviewAction
from warmup.models import PhaseStatus, WarmupPhase
from warmup.services.resolutions import review_skip

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.usefixtures("default_plan"),
]


def test_a_reviewer_filters_opens_and_resolves_an_item(page):
    reviewer = reviewer_user()
    item = WarmupPhaseFactory(in_review=True, category="login_failed")
    WarmupPhaseFactory(in_review=True, category="action_blocked")

    log_in(page, reviewer)
    page.click('#content-main a:text-is("Review queue")')
    assert page.locator("h1").inner_text() == "2 items in review"
    page.click("#changelist-filter >> text=Login failed")
    assert page.locator("h1").inner_text() == "1 item in review matching the filters"
    shot(page, "queue")
    page.click(f"#result_list >> text={item.account}")
    shot(page, "item")
    page.select_option("#id_resume_reason_code", "fixed_credentials")
    page.fill("#id_resume_note", "Reset the password from the phone")
    page.click("input[type=submit][value='Resume automation']")

    assert "Resumed" in page.locator(".messagelist").inner_text()
    assert "Reset the password from the phone" in page.locator(".timeline").inner_text()
    page.click(".breadcrumbs >> text=Review queue")
    assert page.locator("h1").inner_text() == "1 item in review"
    assert WarmupPhase.objects.get(pk=item.pk).status == PhaseStatus.AVAILABLE


def test_a_bulk_resume_asks_first_and_a_second_submission_changes_nothing(page):
    reviewer = reviewer_user()
    items = [WarmupPhaseFactory(in_review=True) for _ in range(3)]

    log_in(page, reviewer)
    page.goto("/admin/reviews/reviewitem/")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "resume")
    page.click("button[name=index]")
    assert page.locator("h1").inner_text() == "Resume automation for 3 items"
    page.select_option("#id_reason_code", "replaced_proxy")
    page.fill("#id_note", "New proxy pool")
    # What the page would post; posted once more below, as a double click or the back button
    # followed by "resubmit" would.
    pairs = page.evaluate(
        "() => Array.from(new FormData(document.querySelector('#content form')).entries())"
    )
    page.click("input[type=submit][value='Resume automation']")
    said = page.locator(".messagelist").inner_text()
    shot(page, "queue-bulk-resumed")
    assert said.startswith("Resumed 3 items")
    # one batch for the selection, named with how to undo it
    (batch,) = set(
        ReviewLog.objects.filter(action=ReviewAction.RESUMED).values_list("batch", flat=True)
    )
    assert f"Batch {batch}; to undo it: manage.py resolve_reviews --undo {batch}" in said

    again = page.request.post(
        "/admin/reviews/reviewitem/",
        data=urlencode([tuple(pair) for pair in pairs]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert again.ok  # the redirect to the queue was followed: its page carries the message

    assert "3 not changed: no longer in review" in again.text()
    assert ReviewLog.objects.filter(action=ReviewAction.RESUMED).count() == 3
    assert {WarmupPhase.objects.get(pk=i.pk).status for i in items} == {PhaseStatus.AVAILABLE}


def test_a_staff_user_without_the_permission_sees_no_actions_or_buttons(page):
    from django.contrib.auth.models import Permission

    reader = with_password(UserFactory())
    reader.user_permissions.add(Permission.objects.get(codename="view_reviewitem"))
    item = WarmupPhaseFactory(in_review=True)

    log_in(page, reader)
    page.goto("/admin/reviews/reviewitem/")
    assert page.locator("select[name=action]").count() == 0
    page.click(f"#result_list >> text={item.account}")

    assert page.locator("input[type=submit][value='Resume automation']").count() == 0
    assert "needs the resolve permission" in page.locator(".review-actions").inner_text()


def test_a_disabled_button_on_a_suspended_accounts_item_says_why(page):
    reviewer = reviewer_user()
    item = WarmupPhaseFactory(in_review=True, category="account_suspended")

    log_in(page, reviewer)
    page.goto(f"/admin/reviews/reviewitem/{item.pk}/change/")

    resume = page.locator("p.disabled", has_text="Resume automation")
    assert resume.locator("button").is_disabled()
    # a reviewer is told who may reactivate it (#18: only review leads may)
    assert "the account is suspended: a review lead can reactivate the account" in (
        resume.inner_text()
    )
    assert resume.locator("a", has_text="open the account").count() == 1


def test_the_dashboard_draws_its_charts_and_agrees_with_the_stats_api(page):
    reviewer = reviewer_user()
    items = [WarmupPhaseFactory(in_review=True) for _ in range(3)]

    review_skip(phase_id=items[0].pk, reason_code="other", note="n", actor=Actor.for_user(reviewer))

    log_in(page, reviewer)
    page.click("text=Open the review dashboard")
    page.wait_for_selector("svg")
    shot(page, "dashboard")
    cards = {
        card.locator(".what").inner_text(): card.locator(".number").inner_text()
        for card in page.locator(".dash-card").all()
    }
    stats = page.request.get("/api/v1/reviews/stats/").json()

    assert page.locator("svg").count() >= 3
    assert int(cards["Items in review now"]) == stats["queue"]["total"] == 2
    assert int(cards["Resolved in 14 days"]) == stats["resolutions"]["skip"]["count"] == 1


def test_a_reviewer_types_a_bots_name_among_many_and_keeps_the_category_filter(page):
    reviewer = reviewer_user()
    bots = BotFactory.create_batch(LONG_LIST + 2)
    wanted = WarmupPhaseFactory(in_review=True, bot=bots[5], category="login_failed")
    WarmupPhaseFactory(in_review=True, bot=bots[6], category="login_failed")
    WarmupPhaseFactory(in_review=True, bot=bots[5], category="action_blocked")

    log_in(page, reviewer)
    page.goto("/admin/reviews/reviewitem/")
    page.click("#changelist-filter >> text=Login failed")
    box = page.locator("#long-filter-bot")
    assert box.get_attribute("placeholder") == f"Type a name ({len(bots)})"
    box.fill(bots[5].name)
    box.press("Enter")
    page.wait_for_load_state()

    assert page.locator("h1").inner_text() == "1 item in review matching the filters"
    assert page.locator("#result_list tbody tr").count() == 1
    assert str(wanted.account) in page.locator("#result_list").inner_text()
    assert page.locator("#long-filter-bot").input_value() == bots[5].name
    shot(page, "queue-long-filter")
