"""A bulk confirmation of 60 items in a real browser at 1,400 px (issue #18): the reason, the
note and the button on screen without scrolling, the selection folded below, and "No, take me
back" to the filtered queue the reviewer came from (tests/browser.py: which browser, and how)."""

import pytest

from tests.browser import log_in, reviewer_user, shot
from tests.factories import WarmupPhaseFactory
from warmup.models import PhaseStatus, WarmupPhase

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.usefixtures("default_plan"),
]

FIRST_SCREEN = 900  # px: the viewport's height (tests/reviews/admin/conftest.py)


def test_the_button_of_a_60_item_confirmation_is_on_the_first_screen(page):
    reviewer = reviewer_user()
    items = [WarmupPhaseFactory(in_review=True, category="challenge_required") for _ in range(60)]

    log_in(page, reviewer)
    page.goto("/admin/reviews/reviewitem/?category=challenge_required")
    page.check("#action-toggle")
    page.click("text=Select all 60")
    page.select_option("select[name=action]", "resume")
    page.click("button[name=index]")
    assert page.locator("h1").inner_text() == "Resume automation for 60 items"
    shot(page, "bulk_confirmation_60")

    button = page.locator("input[type=submit][value='Resume automation']").bounding_box()
    reason = page.locator("#id_reason_code").bounding_box()
    assert button["y"] + button["height"] <= FIRST_SCREEN
    assert reason["y"] + reason["height"] <= FIRST_SCREEN
    assert page.locator(".preview").inner_text().startswith("All 60 items will be resumed")
    assert page.locator("ul.selection > li").count() == 20
    assert page.locator(".selection-list details summary").inner_text() == "and 40 more"

    page.click("text=No, take me back")
    assert page.url.endswith("/admin/reviews/reviewitem/?category=challenge_required")
    assert "matching the filters" in page.locator("h1").inner_text()
    assert {WarmupPhase.objects.get(pk=p.pk).status for p in items} == {
        PhaseStatus.REVIEW_REQUIRED
    }


def test_a_lead_assigns_a_selection_to_a_reviewer_and_the_queue_offers_its_csv(page):
    from tests.browser import with_password
    from tests.factories import UserFactory

    lead = with_password(UserFactory(username="lena", lead=True))
    rita = UserFactory(username="rita", reviewer=True)
    items = [WarmupPhaseFactory(in_review=True) for _ in range(3)]

    log_in(page, lead)
    page.goto("/admin/reviews/reviewitem/")
    assert page.locator("a.csv-download").text_content() == "Download these 3 as CSV"
    shot(page, "queue_with_csv_link")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "assign_to")
    page.click("button[name=index]")
    assert page.locator("h1").inner_text() == "Assign 3 items to a reviewer"
    page.select_option("#id_assignee", label="rita")
    shot(page, "bulk_assign_to")
    page.click("input[type=submit][value='Assign']")

    assert page.locator(".messagelist").inner_text().startswith("Assigned to rita: 3 items")
    assert {WarmupPhase.objects.get(pk=p.pk).review_assignee for p in items} == {rita}

    # and on an item's page, to someone else again
    page.goto(f"/admin/reviews/reviewitem/{items[0].pk}/")
    page.click("summary:text-is('Assign to\N{HORIZONTAL ELLIPSIS}')")
    page.select_option("#id_assign_to_assignee", label="lena")
    shot(page, "item_assign_to")
    page.click("form[action$='/act/assign_to/'] input[type=submit]")
    assert "Assigned to lena:" in page.locator(".messagelist").inner_text()
    assert WarmupPhase.objects.get(pk=items[0].pk).review_assignee == lead
