"""An item that came back, in a real browser (Debian's Chromium, as tests/reviews/admin/
test_in_browser.py drives it): its queue row is marked, its page says who resolved it and how
it failed again, and the resolution that worked best before is open with its reason chosen."""

from datetime import timedelta

import pytest

from tests.browser import log_in, shot, with_password
from tests.factories import UserFactory, new_item_in_review
from tests.resolved import CAME_BACK, WORKED, resolve_then
from warmup.domain.actors import Actor

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.usefixtures("default_plan"),
]


def test_a_reviewer_sees_an_item_that_came_back_and_what_worked_before(
    page,
    content_pool,
    bot,
    clock,
):
    # given: resumes with "solved challenge" that worked 5 times of 6, one more of which came
    # back two hours ago, and an item never resolved
    rita = Actor.for_user(UserFactory(username="rita", reviewer=True))
    common = {"method": "resume", "reason_code": "solved_challenge", "bot": bot, "actor": rita}
    for then in [WORKED] * 5 + [CAME_BACK]:
        resolve_then(new_item_in_review(bot), then=then, **common)
    back = resolve_then(new_item_in_review(bot), then=CAME_BACK, **common)
    fresh = new_item_in_review(bot)
    clock.shift(timedelta(hours=2))

    # when: a reviewer opens the queue
    log_in(page, with_password(UserFactory(reviewer=True)))
    page.goto("/admin/reviews/reviewitem/")
    shot(page, "queue-came-back")

    # then: the returned rows are marked, the fresh one is not
    row = page.locator(f'#result_list tr:has(input[value="{back.pk}"])')
    assert (
        row.locator(".came-back")
        .inner_text()
        .endswith("resumed by rita 2 h ago, failed again the same way")
    )
    assert (
        page.locator("#result_list tr", has_text=str(fresh.account)).locator(".came-back").count()
        == 0
    )

    # when: they open the item
    row.locator(f"a:text-is('{back.account}')").click()
    page.wait_for_load_state()  # read the page it leads to once loaded
    shot(page, "item-came-back")

    # then: it says so, and offers the resume that worked, its reason chosen
    assert page.locator(".came-back-note").inner_text() == (
        "Came back: resumed by rita 2 h ago, failed again the same way."
    )
    assert "worked 5 of 7 (71 %)" in page.locator(".suggestions").inner_text()
    assert page.locator("#id_resume_reason_code").input_value() == "solved_challenge"
    assert page.locator("#id_resume_note").is_visible()  # the suggested action is open
