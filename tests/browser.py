"""The browser the console's tests drive: Playwright with Debian's Chromium (never a downloaded
one), and what those tests do in it. The fixtures (`browser`, `page`) are in
tests/reviews/admin/conftest.py.

Chromium comes from the system (`apt-get install chromium`). Without it the browser tests skip
and say why, unless REQUIRE_BROWSER=1 (as in .ci/run), where a missing browser fails the run.
Screenshots go to screenshots/ (git-ignored).
"""

import os
from pathlib import Path

from bench.browser import ARGS, CHROMIUM, unavailable  # noqa: F401 (the fixtures take them here)
from tests.factories import UserFactory

REQUIRED = os.environ.get("REQUIRE_BROWSER") == "1"
SHOTS = Path(__file__).resolve().parents[1] / "screenshots"
PASSWORD = "browser-pw-123"


def log_in(page, user):
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


# The guides' pictures (docs/*.png) are these tests' screenshots: `make docs-shots` runs the
# tests that take them with DOCS_SHOTS=1, which writes each into docs/ too, so the guides show
# the console as it is.
GUIDE_PICTURES = {
    "queue-live": "review-queue.png",
    "item": "review-item.png",
    "incidents": "incidents.png",
    "incident-resolve": "incident-resolve.png",
}
DOCS = Path(__file__).resolve().parents[1] / "docs"


def shot(page, name):
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if os.environ.get("DOCS_SHOTS") == "1" and name in GUIDE_PICTURES:
        page.screenshot(path=str(DOCS / GUIDE_PICTURES[name]), full_page=True)


def with_password(user):
    user.set_password(PASSWORD)
    user.save()
    return user


def reviewer_user():
    return with_password(UserFactory(reviewer=True))
