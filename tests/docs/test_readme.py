"""The README is what a newcomer reads in two minutes: what it is, the two commands, a
screenshot, and where each guide is; everything else lives in the guides under docs/."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_readme_reads_in_two_minutes():
    assert len(README.splitlines()) < 150


def test_the_readme_gives_the_two_commands_a_screenshot_and_every_guide():
    assert "make demo" in README and "make test" in README and "make docs" in README
    assert "![" in README
    for guide in ("docs/reviewers.md", "docs/bots.md", "docs/operators.md", "docs/architecture.md"):
        assert f"]({guide})" in README, guide


def test_every_link_of_the_readme_reaches_a_file():
    for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", README):
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).exists(), target
