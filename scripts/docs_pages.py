"""The documentation's generated pages, rendered from the code at build time (docs/hooks.py
calls these; `python scripts/docs_pages.py OUT_DIR` writes them to a folder to look at):

- settings.md: the environment variables, from `config.settings_doc.SETTINGS`;
- commands.md: each of the project's management commands' own `--help`;
- states.md: the status machines drawn as SVG from `TRANSITIONS` and `ACCOUNT_TRANSITIONS`;
- security.md and benchmarks.md: SECURITY.md and bench/README.md, links made relative;
- openapi.yaml: the served OpenAPI schema.

Everything here needs Django set up (`setup_django`); nothing touches a database.
"""

from __future__ import annotations

import argparse
import html
import math
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND_APPS = ("warmup", "reviews")  # the apps whose commands are the project's own
HELP_WIDTH = "100"
DJANGO_COMMON_OPTIONS = {
    "--version",
    "--verbosity",
    "--settings",
    "--pythonpath",
    "--traceback",
    "--no-color",
    "--force-color",
    "--skip-checks",
}


def setup_django() -> None:
    """Django with the development settings on SQLite: enough to build parsers and the schema."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the build's output, not Django's start-up lines
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'db.sqlite3'}")
    os.environ["COLUMNS"] = HELP_WIDTH  # argparse wraps the help to this width
    import django

    django.setup()


# --- Settings -------------------------------------------------------------------------------

_RELATIVE_LINK = re.compile(r"\]\((?!https?:|#|\.\./)")


def settings_page() -> str:
    from config.settings_doc import SETTINGS

    lines = [
        "# Settings",
        "",
        "Every environment variable the project reads, with its default and what it does. This "
        "page is generated from `config/settings_doc.py` when the site is built; a test fails "
        "when `config/settings.py` reads a variable that has no row there.",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
    ]
    for setting in SETTINGS:
        names = ", ".join(f"`{name}`" for name in setting.names)
        meaning = _RELATIVE_LINK.sub("](../", setting.meaning)
        if setting.read_by != "config/settings.py":
            meaning += f" (read by {setting.read_by})"
        cells = [names, setting.default, meaning]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines += [
        "",
        "The retry policy, escalation thresholds, breaker thresholds and scheduler batch size "
        "are settings in `config/settings.py` (`WARMUP_RETRY_POLICY`, "
        "`WARMUP_ESCALATION_THRESHOLDS`, `WARMUP_BREAKER`, `WARMUP_TICK_BATCH_SIZE`): see "
        "[the retry policy](../bots.md#retry-policy-defaults) and "
        "[the breaker](../bots.md#the-breaker).",
        "",
    ]
    return "\n".join(lines)


# --- Commands -------------------------------------------------------------------------------


def command_names() -> dict[str, list[str]]:
    """The project's own management commands, by app."""
    from django.core.management import find_commands

    names = {}
    for app in COMMAND_APPS:
        names[app] = sorted(find_commands(str(ROOT / app / "management")))
    return names


def command_help(app: str, name: str) -> str:
    from django.core.management import load_command_class

    command = load_command_class(app, name)
    parser = command.create_parser("manage.py", name)
    for action in parser._actions:
        # Django's options common to every command are said once, above, not per command.
        if set(action.option_strings) & DJANGO_COMMON_OPTIONS:
            action.help = argparse.SUPPRESS
    return parser.format_help()


def commands_page() -> str:
    lines = [
        "# Command reference",
        "",
        "Each of the project's own management commands, with its own `--help` as the code says "
        "it (generated when the site is built). Run one with "
        "`.venv/bin/python manage.py <command>` (add `DEBUG=1` or a `SECRET_KEY`). What each "
        "is for: [Commands](../operators.md#commands) in the operators' guide. Every command "
        "also takes Django's common options (`-v {0,1,2,3}`, `--settings`, `--pythonpath`, "
        "`--traceback`, `--no-color`, `--force-color`, `--skip-checks`, `--version`), left out "
        "below.",
        "",
    ]
    for app, names in command_names().items():
        for name in names:
            lines += [f"## {name}", "", f"From `{app}/management/commands/{name}.py`.", ""]
            lines += ["```text", command_help(app, name).rstrip(), "```", ""]
    return "\n".join(lines)


# --- Status machines ------------------------------------------------------------------------

# Where each status sits (column, row); a status not placed here goes on a new row.
_PHASE_PLACES = {
    "pending": (0, 0),
    "available": (0, 1),
    "content_assigned": (0, 2),
    "in_progress": (0, 3),
    "completed": (0, 4),
    "review_required": (1.6, 2),
}
_ACCOUNT_PLACES = {"active": (0, 0), "paused": (1.5, 1.2), "suspended": (3, 0)}
_BOX_W, _BOX_H, _COL, _ROW, _PAD = 170, 40, 240, 100, 50


def _moves_svg(table: dict[tuple[str, str], str], places: dict, title: str) -> str:
    """An SVG of a table of moves: a box per status, an arrow per move with its name."""
    places = dict(places)
    extra = 0
    for status in sorted({s for move in table for s in move}):
        if status not in places:
            places[status] = (extra, max(y for _, y in places.values()) + 1.2)
            extra += 1

    def centre(status):
        col, row = places[status]
        return _PAD + _BOX_W / 2 + col * _COL, _PAD + _BOX_H / 2 + row * _ROW

    width = int(max(centre(s)[0] for s in places) + _BOX_W / 2 + _PAD)
    height = int(max(centre(s)[1] for s in places) + _BOX_H / 2 + _PAD)

    def edge_point(cx, cy, dx, dy):
        # Where a line from the box's centre in direction (dx, dy) leaves the box.
        scale = min(
            (_BOX_W / 2 + 4) / abs(dx) if dx else math.inf,
            (_BOX_H / 2 + 4) / abs(dy) if dy else math.inf,
        )
        return cx + dx * scale, cy + dy * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}" '
        'class="state-diagram">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#455a64"/></marker></defs>',
    ]
    labels = []
    for (source, target), name in table.items():
        (x1, y1), (x2, y2) = centre(source), centre(target)
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy)
        # A move with one back the other way bends to its own side; a long straight one that
        # would cross a box bends too.
        bend = 0.0
        if (target, source) in table:
            bend = 38.0
        elif (abs(dy) < 1 and length > _COL * 1.5) or (abs(dx) < 1 and length > _ROW * 1.5):
            bend = 60.0
        nx, ny = -dy / length, dx / length
        mx, my = (x1 + x2) / 2 + nx * bend, (y1 + y2) / 2 + ny * bend
        sx, sy = edge_point(x1, y1, mx - x1, my - y1)
        ex, ey = edge_point(x2, y2, mx - x2, my - y2)
        parts.append(
            f'<path d="M{sx:.1f},{sy:.1f} Q{mx:.1f},{my:.1f} {ex:.1f},{ey:.1f}" fill="none" '
            'stroke="#455a64" stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
        # The label a third of the way, nearer its source: two moves that cross in the middle
        # keep their names apart.
        t = 0.5 if bend == 0 else 0.35
        lx = (1 - t) ** 2 * sx + 2 * t * (1 - t) * mx + t**2 * ex
        ly = (1 - t) ** 2 * sy + 2 * t * (1 - t) * my + t**2 * ey
        labels.append(
            f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="middle" font-size="13" '
            'font-family="sans-serif" '
            'fill="#263238" stroke="#ffffff" stroke-width="4" paint-order="stroke">'
            f"{html.escape(name)}</text>"
        )
    for status in places:
        cx, cy = centre(status)
        parts.append(
            f'<rect x="{cx - _BOX_W / 2:.1f}" y="{cy - _BOX_H / 2:.1f}" width="{_BOX_W}" '
            f'height="{_BOX_H}" rx="8" fill="#e3f2fd" stroke="#1565c0" stroke-width="1.5"/>'
            f'<text x="{cx:.1f}" y="{cy + 5:.1f}" text-anchor="middle" font-size="14" '
            f'font-family="monospace" fill="#0d47a1">{html.escape(status)}</text>'
        )
    parts += labels
    parts.append("</svg>")
    return "".join(parts)


def _moves_table(table: dict[tuple[str, str], str]) -> list[str]:
    lines = ["| from | to | move |", "| --- | --- | --- |"]
    lines += [f"| `{a}` | `{b}` | `{name}` |" for (a, b), name in table.items()]
    return lines


def states_page() -> str:
    from warmup.lifecycle.state import ACCOUNT_TRANSITIONS, TRANSITIONS, UNDO_TRANSITIONS

    phase_svg = _moves_svg(TRANSITIONS, _PHASE_PLACES, "The phase status machine")
    account_svg = _moves_svg(ACCOUNT_TRANSITIONS, _ACCOUNT_PLACES, "The account status machine")
    lines = [
        "# Status machines",
        "",
        "Drawn when the site is built from the tables of allowed moves in "
        "`warmup/lifecycle/state.py` (`TRANSITIONS`, `ACCOUNT_TRANSITIONS`, "
        "`UNDO_TRANSITIONS`): a move that is not here is refused with `InvalidTransition`. "
        "How each move happens: [How a phase moves](../architecture.md#how-a-phase-moves).",
        "",
        "## Phases",
        "",
        f'<div class="state-diagram">{phase_svg}</div>',
        "",
        *_moves_table(TRANSITIONS),
        "",
        "## Accounts",
        "",
        f'<div class="state-diagram">{account_svg}</div>',
        "",
        *_moves_table(ACCOUNT_TRANSITIONS),
        "",
        "## Undoing a bulk resolution",
        "",
        "Moves only `resolve_reviews --undo` (and the console's *Undo this batch*) makes, and "
        "only while no bot has claimed the phases since: back to review from where the "
        "resolution left the phase, and the next phase that a completion unlocked back to "
        "pending.",
        "",
        *_moves_table(UNDO_TRANSITIONS),
        "",
    ]
    return "\n".join(lines)


# --- Security and the API schema ------------------------------------------------------------


def repository_page(path: str) -> str:
    """A Markdown file of the repository (SECURITY.md, bench/README.md) as a page of the site:
    links into docs/ made relative, a link to README.md to the home page, others to the
    repository's files named as paths (the site has no copy of them)."""
    text = (ROOT / path).read_text()

    def relink(match: re.Match) -> str:
        label, target = match.group(1), match.group(2)
        if target.startswith(("http://", "https://", "#", "mailto:")):
            return match.group(0)
        if target.startswith("docs/"):
            return f"[{label}]({target.removeprefix('docs/')})"
        if target.split("#")[0] == "README.md":
            return f"[{label}](index.md)"
        return f"{label} (`{target}`)"

    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", relink, text)


def security_page() -> str:
    return repository_page("SECURITY.md")


def benchmarks_page() -> str:
    """bench/README.md, a page under generated/: its links one folder deeper."""
    text = repository_page("bench/README.md")
    return re.sub(r"\]\((?!https?:|#|\.\./)([^)\s]+\.md)", r"](../\1", text)


def openapi_yaml() -> str:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiYamlRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenApiYamlRenderer().render(schema, renderer_context={}).decode()


# --- Nothing from other hosts ---------------------------------------------------------------

_TAG = re.compile(r"<(?:script|link|img|iframe|source|video|audio)\b[^>]*>", re.IGNORECASE)
_ADDRESS = re.compile(r"\b(?:src|href)=[\"']?((?:https?:)?//[^\"'\s>]+)", re.IGNORECASE)
# A <link> that names a page rather than loads it (the page's own address when a site_url is
# set, as `mkdocs serve` does) is not fetched.
_NOT_FETCHED = re.compile(r"\brel=[\"']?(?:canonical|alternate|prev|next)\b", re.IGNORECASE)
_CSS_URL = re.compile(r"(?:url\(|@import\s+)[\"']?((?:https?:)?//[^\"')\s]+)", re.IGNORECASE)


def fetched_from_elsewhere(site: Path) -> list[str]:
    """What a built page would make a browser fetch from another host (a CDN's script, a web
    font, a stylesheet): `file: address` lines; the site must have none."""
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix not in (".html", ".css"):
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".css":
            found += [f"{path.relative_to(site)}: {a}" for a in _CSS_URL.findall(text)]
            continue
        for tag in _TAG.findall(text):
            if not _NOT_FETCHED.search(tag):
                found += [f"{path.relative_to(site)}: {a}" for a in _ADDRESS.findall(tag)]
        found += [
            f"{path.relative_to(site)}: {address}"
            for style in re.findall(r"<style[^>]*>(.*?)</style>", text, re.S)
            for address in _CSS_URL.findall(style)
        ]
    return found


def pages() -> dict[str, str]:
    """Every generated file, by its path under docs/."""
    return {
        "generated/settings.md": settings_page(),
        "generated/commands.md": commands_page(),
        "generated/states.md": states_page(),
        "generated/openapi.yaml": openapi_yaml(),
        "generated/benchmarks.md": benchmarks_page(),
        "security.md": security_page(),
    }


if __name__ == "__main__":
    setup_django()
    if len(sys.argv) != 2:
        sys.exit(
            "usage: python scripts/docs_pages.py OUT_DIR (the pages, to look at; `make docs` "
            "renders them itself)"
        )
    out = Path(sys.argv[1])
    for path, content in pages().items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(content)
        print(out / path)
