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
