"""The console kept current in a real browser (Debian's Chromium): while a reviewer looks at the
queue, another resolves one of its rows and a new item comes in; the page greys that row with
who did it, keeps the ticks and the rows where they were, and offers the new item with a link
rather than pushing it in. The dashboard's counts follow. Without JavaScript the queue works as
it always did."""

import pytest

from tests.browser import log_in, reviewer_user, shot
from tests.factories import UserFactory, WarmupPhaseFactory
from tests.incidents import proxy_incident
from warmup.domain.actors import Actor
from warmup.services.resolutions import review_resolve

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.usefixtures("default_plan"),
]

POLL_WAIT_MS = 12_000  # the pages poll every 5 s


def failed(bot, n):
    return WarmupPhaseFactory(
        in_review=True,
        bot=bot,
        category="network_error",
        retryable=False,
        reason=f"Timed out after {n} s",
    )


def row_ids(page) -> list[str]:
    boxes = page.locator("#result_list tbody input.action-select").all()
    return [box.get_attribute("value") for box in boxes]


def test_a_row_resolved_elsewhere_greys_in_place_and_new_items_wait_behind_a_link(
    page, content_pool, bot
):
    items = [failed(bot, n) for n in range(4)]
    log_in(page, reviewer_user())
    page.goto("/admin/reviews/reviewitem/")
    before = row_ids(page)
    assert sorted(before) == sorted(str(item.pk) for item in items)
    ticked = page.locator(f'#result_list input.action-select[value="{items[1].pk}"]')
    ticked.check()
    page.locator(f'#result_list input.action-select[value="{items[2].pk}"]').check()

    # another reviewer resolves a ticked row, and a new failure comes in
    new = failed(bot, 99)
    review_resolve(
        phase_id=items[1].pk,
        method="resume",
        reason_code="replaced_proxy",
        note="proxy swapped",
        actor=Actor.for_user(UserFactory(reviewer=True, username="rita")),
    )

    gone = page.locator(f"#live-{items[1].pk}")
    gone.filter(has_text="Resolved by rita (resumed automation)").wait_for(timeout=POLL_WAIT_MS)
    new_link = page.locator("#queue-new a")
    new_link.wait_for(timeout=POLL_WAIT_MS)
    assert new_link.inner_text() == "1 new item since you opened this page: show them"
    assert row_ids(page) == before  # nothing shifted, the new item is not pushed in
    assert ticked.is_checked()
    row = page.locator(f"#result_list tbody tr:has(#live-{items[1].pk})")
    assert float(row.evaluate("tr => getComputedStyle(tr).opacity")) < 1
    shot(page, "queue-live")

    with page.expect_navigation():
        new_link.click()
    assert str(new.pk) in row_ids(page)
    assert str(items[1].pk) not in row_ids(page)


def test_the_dashboard_counts_follow_the_queue(page, content_pool, bot):
    items = [failed(bot, n) for n in range(3)]
    log_in(page, reviewer_user())
    page.goto("/admin/reviews/dashboard/")
    total = page.locator("#dash-queue-total")
    assert total.inner_text() == "3"

    review_resolve(
        phase_id=items[0].pk,
        method="skip",
        reason_code="other",
        note="not worth it",
        actor=Actor.for_user(UserFactory(reviewer=True)),
    )

    page.locator("#dash-queue-total:text-is('2')").wait_for(timeout=POLL_WAIT_MS)
    # the swapped number keeps the card's look (large, as the other cards' numbers)
    assert page.locator("#dash-queue-total").get_attribute("class") == "number"
    shot(page, "dashboard-live")
    by_failure = page.locator("#dash-queue-by-category tbody")
    assert by_failure.inner_text() == "Network error\t2"


def test_without_javascript_the_queue_lists_and_acts_as_before(
    browser, live_server, content_pool, bot
):
    items = [failed(bot, n) for n in range(2)]
    context = browser.new_context(
        java_script_enabled=False, base_url=live_server.url, viewport={"width": 1400, "height": 900}
    )
    page = context.new_page()
    try:
        log_in(page, reviewer_user())
        page.goto("/admin/reviews/reviewitem/")
        assert page.locator("h1").inner_text() == "2 items in review"
        assert sorted(row_ids(page)) == sorted(str(item.pk) for item in items)
        assert page.locator("#queue-new").inner_text() == ""
    finally:
        context.close()


def test_the_incidents_page_counts_down_and_announces_a_new_incident(page, content_pool, bot):
    proxy = proxy_incident(bot, 3)
    log_in(page, reviewer_user())
    page.goto("/admin/reviews/incident/")
    key = proxy[0].__class__.objects.get(pk=proxy[0].pk).review_signature_id
    count = page.locator(f"#incident-count-{key}")
    assert count.inner_text() == "3"

    review_resolve(
        phase_id=proxy[0].pk,
        method="resume",
        reason_code="replaced_proxy",
        note="proxy swapped",
        actor=Actor.for_user(UserFactory(reviewer=True)),
    )
    WarmupPhaseFactory(
        in_review=True, bot=bot, category="login_failed", retryable=False, reason="Bad password"
    )

    page.locator(f"#incident-count-{key}:text-is('2')").wait_for(timeout=POLL_WAIT_MS)
    badge = page.locator("#incidents-new a")
    badge.wait_for(timeout=POLL_WAIT_MS)
    assert badge.inner_text() == "1 new incident since you opened this page: show it"
    row = page.locator(f'tr.incident[data-signature="{key}"]')
    assert "Resolve all 2" in row.inner_text()
    assert page.locator(f"#incident-new-{key}").inner_text() == "2"
    shot(page, "incidents-live")
