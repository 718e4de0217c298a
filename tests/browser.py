"""The browser the console's tests drive: Playwright with Debian's Chromium (never a downloaded
one), and what those tests do in it. The fixtures (`browser`, `page`) are in
tests/reviews/admin/conftest.py.

Chromium comes from the system (`apt-get install chromium`). Without it the browser tests skip
and say why, unless REQUIRE_BROWSER=1 (as in .ci/run), where a missing browser fails the run.
Screenshots go to screenshots/ (git-ignored).
"""

import os
import shutil
from pathlib import Path

from tests.factories import UserFactory

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("REQUIRE_BROWSER") == "1"
SHOTS = Path(__file__).resolve().parents[1] / "screenshots"
PASSWORD = "browser-pw-123"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def unavailable() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (it is in the dev extra)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
    return ""


def log_in(page, user):
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def shot(page, name):
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def with_password(user):
    user.set_password(PASSWORD)
    user.save()
    return user


def reviewer_user():
    return with_password(UserFactory(reviewer=True))
