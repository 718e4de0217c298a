"""The console's keys in a real browser (Debian's Chromium, as tests/reviews/admin/
test_in_browser.py drives it): a reviewer clears items from the queue without the mouse, walks
a filtered queue item by item with n and p, reads the keys with ?, and types in the search box
without the keys getting in the way. reviews/static/reviews/keys.js is what is tested."""

import re

import pytest

from tests.browser import log_in, reviewer_user, shot
from tests.factories import WarmupPhaseFactory, new_item_in_review
from tests.resolved import WORKED, resolve_then
from warmup.domain.actors import Actor
from warmup.models import PhaseStatus, WarmupPhase

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.usefixtures("default_plan"),
]

QUEUE = "/admin/reviews/reviewitem/"


def highlighted(page) -> list[str]:
    """The account names of the highlighted rows (at most one)."""
    return page.locator("#result_list tbody tr.key-current th").all_inner_texts()


def tab_to(page, selector: str, most: int = 40) -> int:
    """Press Tab until `selector` has the focus, as a reviewer without a mouse would; how
    many presses it took."""
    for presses in range(most):
        if page.evaluate(f"() => document.activeElement.matches({selector!r})"):
            return presses
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_a_reviewer_clears_five_items_without_the_mouse(page, content_pool, bot):
    # given: resumes with "solved challenge" that worked (so it is suggested), then seven
    # challenges in review
    reviewer = reviewer_user()
    for _ in range(5):
        resolve_then(
            new_item_in_review(bot),
            method="resume",
            reason_code="solved_challenge",
            then=WORKED,
            bot=bot,
            actor=Actor.for_user(reviewer),
        )
    items = [new_item_in_review(bot) for _ in range(7)]
    cleared, left = items[:5], items[5:]

    # when: they open the queue and tick five rows with j and x
    log_in(page, reviewer)
    page.goto(QUEUE)
    assert page.locator("h1").inner_text() == "7 items in review"
    assert highlighted(page) == []
    for _ in range(5):
        page.keyboard.press("j")
        page.keyboard.press("x")
    page.keyboard.press("j")  # the sixth row highlighted, not ticked
    shot(page, "keys-queue-highlighted")

    # then: the sixth row is highlighted and the five above it ticked
    assert highlighted(page) == [str(left[0].account)]
    ticked = page.locator("#result_list input.action-select:checked")
    assert sorted(int(v) for v in ticked.evaluate_all("els => els.map(e => e.value)")) == sorted(
        item.pk for item in cleared
    )

    # when: e (resume) asks for the five, the suggested reason chosen
    with page.expect_navigation():
        page.keyboard.press("e")
    assert page.locator("h1").inner_text() == "Resume automation for 5 items"
    assert page.locator("#id_reason_code").input_value() == "solved_challenge"
    shot(page, "keys-confirm-resume")
    # and they write the note and confirm, with the keyboard only
    # the cursor already waits in the note, the reason being chosen
    assert tab_to(page, "#id_note") == 0
    page.keyboard.type("Solved the challenges on the phones")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.value") == "Resume automation"
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # then: the five left the queue, on the page and in the database
    assert page.locator(".messagelist").inner_text().startswith("Resumed 5 items")
    assert page.locator("h1").inner_text() == "2 items in review"
    listed = page.locator("#result_list tbody th").all_inner_texts()
    assert listed == [str(item.account) for item in left]
    statuses = {WarmupPhase.objects.get(pk=item.pk).status for item in cleared}
    assert statuses == {PhaseStatus.AVAILABLE}
    assert {WarmupPhase.objects.get(pk=item.pk).status for item in left} == {
        PhaseStatus.REVIEW_REQUIRED
    }


def test_r_with_nothing_ticked_retries_the_highlighted_row(page):
    reviewer = reviewer_user()
    first, second = (WarmupPhaseFactory(in_review=True) for _ in range(2))

    log_in(page, reviewer)
    page.goto(QUEUE)
    page.keyboard.press("j")
    page.keyboard.press("j")
    with page.expect_navigation():
        page.keyboard.press("r")

    assert page.locator("h1").inner_text() == "Retry 1 item now"
    assert str(second.account) in page.locator("#content ul").first.inner_text()
    assert str(first.account) not in page.locator("#content ul").first.inner_text()


def test_n_and_p_walk_the_filtered_queue_and_e_opens_the_resume_form(page):
    reviewer = reviewer_user()
    first = WarmupPhaseFactory(in_review=True, category="login_failed")
    WarmupPhaseFactory(in_review=True, category="action_blocked")  # filtered out
    second = WarmupPhaseFactory(in_review=True, category="login_failed")

    # given: the queue filtered to login failures, the first item opened with j and Enter
    log_in(page, reviewer)
    page.goto(f"{QUEUE}?category=login_failed")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/reviewitem/{first.pk}/change/\?_changelist_filters="))
    assert page.locator("#previous-item").count() == 0  # the first of the filtered queue
    shot(page, "keys-item-next")

    # when: n, then p
    page.keyboard.press("n")
    page.wait_for_url(re.compile(rf"/reviewitem/{second.pk}/change/\?_changelist_filters="))
    # then: the next login failure (not the action block between them), the last one
    assert page.locator("#next-item").count() == 0
    assert page.locator("#previous-item").text_content() == "Previous item"
    page.keyboard.press("n")  # nothing after the last: it stays, and says so
    assert page.locator("#keys-note").inner_text() == "No next item: this is the last of the queue."
    page.keyboard.press("p")
    page.wait_for_url(re.compile(rf"/reviewitem/{first.pk}/change/\?_changelist_filters="))

    # when: e on the item page
    page.keyboard.press("e")
    # then: the resume form is open, the reason to choose first
    assert page.locator("#id_resume_reason_code").is_visible()
    assert page.evaluate("() => document.activeElement.id") == "id_resume_reason_code"

    # when: they pick a reason, write a note and confirm, all with the keyboard, then press n
    page.keyboard.type("Other")
    assert page.locator("#id_resume_reason_code").input_value() == "other"
    page.keyboard.press("Tab")
    page.keyboard.type("Reset the password")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Resumed" in page.locator(".messagelist").inner_text()
    page.keyboard.press("n")
    # then: the next item of the same filtered queue
    page.wait_for_url(re.compile(rf"/reviewitem/{second.pk}/change/\?_changelist_filters="))
    assert WarmupPhase.objects.get(pk=first.pk).status == PhaseStatus.AVAILABLE


def test_question_mark_lists_the_keys_and_esc_closes_them(page):
    reviewer = reviewer_user()
    WarmupPhaseFactory(in_review=True)

    log_in(page, reviewer)
    page.goto(QUEUE)
    page.keyboard.press("j")
    page.keyboard.press("?")

    dialog = page.locator("#keys-help")
    assert dialog.is_visible()
    text = dialog.inner_text()
    for said in ("j / k", "Next / previous row", "o or Enter", "Retry now", "Skip", "Search"):
        assert said in text
    shot(page, "keys-help")
    page.keyboard.press("j")  # keys wait while the list is open
    page.keyboard.press("Escape")
    assert not dialog.is_visible()


def test_typing_j_in_the_search_box_types_it_and_moves_nothing(page):
    reviewer = reviewer_user()
    first = WarmupPhaseFactory(in_review=True)
    WarmupPhaseFactory(in_review=True)

    log_in(page, reviewer)
    page.goto(QUEUE)
    page.keyboard.press("j")
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "searchbar"
    page.keyboard.type("jjk")

    assert page.locator("#searchbar").input_value() == "jjk"
    assert highlighted(page) == [str(first.account)]
    # and with Ctrl or Alt held, outside the box, nothing moves either
    page.keyboard.press("Escape")
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("Alt+j")
    assert highlighted(page) == [str(first.account)]


def test_a_assigns_the_highlighted_row_to_me_at_once(page):
    reviewer = reviewer_user()
    WarmupPhaseFactory(in_review=True)
    second = WarmupPhaseFactory(in_review=True)

    log_in(page, reviewer)
    page.goto(QUEUE)
    page.keyboard.press("j")
    page.keyboard.press("j")
    with page.expect_navigation():
        page.keyboard.press("a")

    assert page.locator(".messagelist").inner_text().startswith("Assigned to you:")
    row = page.locator("#result_list tbody tr", has_text=str(second.account))
    assert row.locator("td.field-assignee").inner_text() == reviewer.username
    assert WarmupPhase.objects.get(pk=second.pk).review_assignee_id == reviewer.pk
