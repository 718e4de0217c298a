"""An incident in a real browser (Debian's Chromium, as tests/reviews/admin/test_in_browser.py
drives it): the reviewer finds it on the incidents page, opens its items, resolves them all from
the confirmation page, reads the batch's page and undoes it."""

import pytest

from tests.browser import log_in, reviewer_user, shot, with_password
from tests.factories import UserFactory, WarmupPhaseFactory
from tests.incidents import dead_proxy_breaker
from warmup.models import PhaseStatus, WarmupPhase

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.usefixtures("default_plan"),
]

PROXY_ITEMS = 12


def failed(bot, category, reason):
    return WarmupPhaseFactory(
        in_review=True, bot=bot, category=category, retryable=False, reason=reason
    )


def test_a_reviewer_resolves_an_incident_from_its_row_and_undoes_it(
    page,
    content_pool,
    bot,
):
    # given: a proxy pool that died (twelve items, each with its own address) and two
    # unrelated failures
    items = [
        failed(bot, "proxy_error", f"Proxy 10.0.{n}.7:8080 refused the connection")
        for n in range(PROXY_ITEMS)
    ]
    failed(bot, "login_failed", "Password rejected for the account")
    failed(bot, "challenge_required", "Checkpoint: confirm it is you (code 4411)")
    reviewer = reviewer_user()

    # when: the reviewer opens the incidents from the admin's home
    log_in(page, reviewer)
    page.click('#content-main a:text-is("Incidents")')
    rows = page.locator("tr.incident")
    assert rows.count() == 3
    first = rows.nth(0)
    assert "proxy_error on profile_bio: Proxy <ip>:<port> refused the connection" in (
        first.inner_text()
    )
    assert first.locator("td.n").first.inner_text() == str(PROXY_ITEMS)
    shot(page, "incidents")

    # the row's title opens the queue filtered to the incident
    first.locator("a.title").click()
    page.wait_for_load_state()  # read the page it leads to once loaded
    assert page.locator("h1").inner_text() == f"{PROXY_ITEMS} items in review matching the filters"
    shot(page, "incident-queue")
    page.go_back()

    # then resolves all of them: the confirmation says what each resolution would do first
    first.locator("a.button").click()
    page.wait_for_load_state()  # read the page it leads to once loaded
    assert page.locator("h1").inner_text() == f"Resolve an incident: {PROXY_ITEMS} items"
    resume = page.locator('tr[data-method="resume"]')
    assert resume.locator("td.n").inner_text() == str(PROXY_ITEMS)
    shot(page, "incident-resolve")
    page.check('input[name="method"][value="resume"]')
    page.select_option("#id_reason_code", "replaced_proxy")
    page.fill("#id_note", "Proxy pool replaced")
    page.click(f'input[type=submit][value="Resolve {PROXY_ITEMS} items"]')

    # the batch's page: done, refused, left, and the way back
    assert page.locator("#batch-done").inner_text() == f"{PROXY_ITEMS} items"
    assert page.locator("#batch-refused").inner_text() == "none"
    assert "0 items of this incident" in page.locator("#batch-left").inner_text()
    shot(page, "incident-batch")
    resumed = WarmupPhase.objects.filter(pk__in=[i.pk for i in items])
    assert set(resumed.values_list("status", flat=True)) == {PhaseStatus.AVAILABLE}

    # and undoes it
    page.fill("#id_note", "Wrong pool: the old one is back")
    page.click('input[type=submit][value="Undo this batch"]')
    assert page.locator("#batch-done").inner_text() == f"{PROXY_ITEMS} items"
    assert page.locator("h2").first.inner_text().startswith("Undo of batch")
    assert set(resumed.values_list("status", flat=True)) == {PhaseStatus.REVIEW_REQUIRED}
    page.click('a:text-is("Back to the incidents")')
    assert page.locator("tr.incident").count() == 3


def test_a_review_lead_closes_an_open_breaker_from_the_incidents_page(
    page,
    content_pool,
    settings,
    clock,
):
    # given: three bots behind one dead proxy fail six Instagram bios within minutes
    breaker = dead_proxy_breaker(settings, clock)
    lead = with_password(UserFactory(lead=True))

    # when: the lead reads the incidents page
    log_in(page, lead)
    page.goto("/admin/reviews/incident/")
    row = page.locator("tr.breaker")
    assert "profile_bio phases on Instagram" in row.inner_text()
    assert page.locator(".breaker-badge").inner_text() == "breaker open"
    shot(page, "incidents-breaker")

    # and closes the breaker with a reason and a note
    row.locator("select[name=reason_code]").select_option("replaced_proxy")
    row.locator("textarea[name=note]").fill("Proxy pool replaced")
    row.locator('input[value="Close breaker"]').click()
    page.wait_for_load_state()  # read the page it leads to once loaded

    # then: it says so, the breaker is gone from the page, and bots may claim the scope again
    assert (
        "bots may claim profile_bio phases on Instagram again"
        in page.locator(".messagelist").inner_text()
    )
    assert page.locator("tr.breaker").count() == 0
    breaker.refresh_from_db()
    assert breaker.closed_by == lead and breaker.close_note == "Proxy pool replaced"
