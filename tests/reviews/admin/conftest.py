"""The browser for the console's tests in a real browser (tests/browser.py says which and how)."""

import os

import pytest

from tests.browser import ARGS, CHROMIUM, REQUIRED, unavailable


@pytest.fixture(scope="module")
def _blocking_calls_beside_the_event_loop():
    """Playwright's sync API runs an event loop in this thread; the tests' own database calls
    (the factories) are ordinary blocking calls, which Django would otherwise refuse there.
    Allowed for the browser's module only: a command another test starts must not inherit it."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(_blocking_calls_beside_the_event_loop):
    why = unavailable()
    if why:
        if REQUIRED:
            pytest.fail(f"REQUIRE_BROWSER=1 but {why}")
        pytest.skip(f"browser tests need a browser: {why}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.click = _click_then_load(page)
    yield page
    context.close()


def _click_then_load(page):
    """`page.click` that returns once the page it leads to has loaded. Playwright's own waits
    only until a navigation it starts is under way: a test that then reads the page (its
    messages, its errors) could read it half parsed, and under load it did (an empty message
    list, a form without the error it shows at its foot). A click that leads nowhere returns
    at once, as before."""
    click = page.click

    def click_then_load(*args, **kwargs):
        click(*args, **kwargs)
        page.wait_for_load_state()

    return click_then_load
