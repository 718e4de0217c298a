"""The documentation site: the generated references cover what the code has (every variable
the settings read, every command), the site builds with --strict (a broken link or anchor
fails it), and a browser reading it fetches nothing from another host and can search."""

import ast
import functools
import http.server
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from config.settings_doc import SETTINGS, documented_names
from tests.browser import ARGS, CHROMIUM, REQUIRED, shot, unavailable

ROOT = Path(__file__).resolve().parents[2]
ENV_READERS = ("env_str", "env_bool", "env_count", "env_list", "env_pg_duration")


def _docs_pages():
    spec = importlib.util.spec_from_file_location("docs_pages", ROOT / "scripts/docs_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs_pages = _docs_pages()


def variables_read_by_settings() -> set[str]:
    """The names config/settings.py reads from the environment (env_str("NAME", ...), ...)."""
    tree = ast.parse((ROOT / "config/settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ENV_READERS + ("getenv",)
            or isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("getenv", "get")
            and isinstance(node.func.value, ast.Attribute | ast.Name)
            and getattr(node.func.value, "attr", getattr(node.func.value, "id", "")) == "environ"
        ):
            if node.args and isinstance(node.args[0], ast.Constant):
                names.add(node.args[0].value)
    return names


def test_every_variable_the_settings_read_is_documented():
    read = variables_read_by_settings()
    assert {"DATABASE_URL", "SECRET_KEY", "REDIS_URL", "DB_LOCK_TIMEOUT"} <= read  # it sees them
    missing = read - documented_names()
    assert not missing, f"add a row to config/settings_doc.py for: {sorted(missing)}"


def test_each_variable_is_documented_once_with_a_meaning():
    names = [name for setting in SETTINGS for name in setting.names]
    assert len(names) == len(set(names)), "a variable has two rows"
    assert all(setting.meaning.strip() and setting.default.strip() for setting in SETTINGS)


def test_the_settings_page_shows_every_documented_variable():
    docs_pages.setup_django()
    page = docs_pages.settings_page()
    for name in documented_names():
        assert f"`{name}`" in page
    # Links written from the docs' root are made relative to the generated page.
    assert "](../operators.md#pgbouncer)" in page


def test_the_command_reference_lists_every_command_with_its_own_help():
    docs_pages.setup_django()
    on_disk = {
        path.stem
        for app in docs_pages.COMMAND_APPS
        for path in (ROOT / app / "management/commands").glob("*.py")
        if not path.name.startswith("_")
    }
    page = docs_pages.commands_page()
    assert {"warmup_tick", "resolve_reviews", "create_bot"} <= on_disk
    for name in on_disk:
        assert f"\n## {name}\n" in page, name
        assert f"usage: manage.py {name}" in page, name
    # The words are the parser's own: an option of resolve_reviews shows with its help.
    assert "--batch-size" in page


def test_the_status_diagram_draws_every_move_of_the_table():
    docs_pages.setup_django()
    from warmup.lifecycle.state import TRANSITIONS

    page = docs_pages.states_page()
    for (source, target), name in TRANSITIONS.items():
        assert f">{source}</text>" in page and f">{target}</text>" in page
        assert f"| `{source}` | `{target}` | `{name}` |" in page


def test_security_page_links_stay_inside_the_site():
    page = docs_pages.security_page()
    assert "(README.md" not in page and "(docs/" not in page


# --- The built site -------------------------------------------------------------------------


def _mkdocs_missing():
    if importlib.util.find_spec("mkdocs") and importlib.util.find_spec("material"):
        return None
    why = "mkdocs and mkdocs-material are not installed (pip install -e '.[docs]')"
    if os.environ.get("REQUIRE_DOCS") == "1":
        pytest.fail(f"REQUIRE_DOCS=1 but {why}")
    pytest.skip(why)


def build(docs_dir: Path, site_dir: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of mkdocs.yml with the pages of docs_dir, as `make docs` runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    code = (
        "import sys; from mkdocs.config import load_config; from mkdocs.commands.build import "
        "build; build(load_config('mkdocs.yml', docs_dir=sys.argv[1], site_dir=sys.argv[2], "
        "strict=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(docs_dir), str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    _mkdocs_missing()
    site = tmp_path_factory.mktemp("site")
    result = build(ROOT / "docs", site)
    assert result.returncode == 0, result.stderr[-3000:]
    return site


def test_the_site_builds_with_every_guide_and_generated_page(site):
    for page in (
        "index.html",
        "reviewers.html",
        "bots.html",
        "operators.html",
        "architecture.html",
        "security.html",
        "generated/settings.html",
        "generated/commands.html",
        "generated/states.html",
        "generated/openapi.yaml",
        "generated/benchmarks.html",
    ):
        assert (site / page).is_file(), page
    assert "REDIS_URL" in (site / "generated/settings.html").read_text()
    assert "<svg" in (site / "generated/states.html").read_text()


def test_the_site_fetches_nothing_from_other_hosts(site):
    assert docs_pages.fetched_from_elsewhere(site) == []
    # The check sees a web font or a CDN script when there is one (not a page naming its own
    # address, as `mkdocs serve` makes them).
    sample = site / "cdn-sample.html"
    sample.write_text(
        '<link rel="canonical" href="https://example.com/page.html">'
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
        '<script src="https://unpkg.com/mermaid/dist/mermaid.min.js"></script>'
    )
    try:
        assert len(docs_pages.fetched_from_elsewhere(site)) == 2
    finally:
        sample.unlink()


def test_a_broken_anchor_fails_the_build(tmp_path):
    _mkdocs_missing()
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs, ignore=shutil.ignore_patterns("generated"))
    with (docs / "bots.md").open("a") as page:
        page.write("\nSee [the settings](operators.md#no-such-setting).\n")
    result = build(docs, tmp_path / "site")
    assert result.returncode != 0
    assert "does not contain an anchor '#no-such-setting'" in result.stderr


@pytest.mark.browser
def test_a_reader_searches_the_site_offline_and_nothing_comes_from_elsewhere(site):
    why = unavailable()
    if why:
        if REQUIRED:
            pytest.fail(f"REQUIRE_BROWSER=1 but {why}")
        pytest.skip(f"browser tests need a browser: {why}")
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    elsewhere = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on(
                "request",
                lambda request: (
                    None
                    if request.url.startswith((base, "data:", "blob:"))
                    else elsewhere.append(request.url)
                ),
            )
            page.goto(f"{base}/index.html")
            shot(page, "docs-index")
            page.goto(f"{base}/generated/states.html")
            assert page.locator("svg.state-diagram").first.is_visible()
            shot(page, "docs-states")
            page.goto(f"{base}/bots.html")
            page.keyboard.press("/")  # the search box
            page.keyboard.type("lease_lost")
            results = page.locator(".md-search-result__item")
            results.first.wait_for()
            assert "lease" in results.first.inner_text().lower()
            shot(page, "docs-search")
            page.goto(f"{base}/operators.html#alerts")
            shot(page, "docs-operators-alerts")
            browser.close()
    finally:
        server.shutdown()
    assert elsewhere == []


def test_every_picture_of_the_guides_is_a_screenshot_a_browser_test_takes():
    """The guides show the console as the browser tests see it: each picture a guide shows is
    one of tests/browser.py's GUIDE_PICTURES, and some browser test takes it (make docs-shots
    takes them again)."""
    import re
    from pathlib import Path

    from tests.browser import GUIDE_PICTURES

    root = Path(__file__).resolve().parents[2]
    shown = {
        picture
        for page in (root / "docs").glob("*.md")
        for picture in re.findall(r"!\[[^\]]*\]\(([\w.-]+\.png)\)", page.read_text())
    }
    assert shown and shown <= set(GUIDE_PICTURES.values()), shown - set(GUIDE_PICTURES.values())
    taken = "\n".join(path.read_text() for path in (root / "tests").rglob("test_*in_browser.py"))
    for name, picture in GUIDE_PICTURES.items():
        if picture in shown:
            assert f'shot(page, "{name}")' in taken, name
