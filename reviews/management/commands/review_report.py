"""Print the review report for a window: the queue now, items entering and leaving review, time
in review, which resolutions and automatic retries worked, and the items waiting longest.

Every number comes from `warmup.selectors.analytics.review_report`, the functions behind the review
API's stats and the review dashboard; this command parses the window, asks once and formats: a table
for a terminal, one JSON object (`analytics.report_document`, which also holds the phase types,
platforms and bots sent to review most), or a flat CSV table (`analytics.report_rows`, written by
`reviews.admin.dashboard.report_csv`, which writes the dashboard's CSV download too). Side
effects: none (read-only).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.replica import read_heavy
from config.text import duration_display, plural
from reviews.admin.dashboard import duration_or_dash, failure_label, percent, report_csv
from warmup.domain.choices import ReasonCode, ResolutionMethod
from warmup.models import Platform
from warmup.selectors import analytics
from warmup.selectors.analytics import iso
from warmup.selectors.filters import escalation_label

FORMATS = ("table", "json", "csv")
DEFAULT_WINDOW = timedelta(days=14)
OLDEST = 10
WIDTH = 100  # the table fits a terminal this wide
INDENT = "  "
GAP = "  "

BAD_MOMENT = (
    "{value!r} is not a date, a date-time or a time ago; "
    "try 2024-05-01, 2024-05-01T09:30, 2024-05-01T09:30+02:00, 7d, 24h, 90min or 2w."
)
SINCE_IN_FUTURE = "--since {since} is in the future: the window has not started yet."
UNTIL_NOT_AFTER_SINCE = "--until {until} is not after --since {since}: the window is empty."

EPILOG = """\
dates:
  --since and --until take an ISO date (2024-05-01: midnight, in the TIME_ZONE
  setting), an ISO date-time (2024-05-01T09:30, or with an offset:
  2024-05-01T09:30+02:00), or a time ago: 7d, 24h, 90min, 2w (that long before
  now). The window includes --since and excludes --until. Without them it is the
  last 14 days, until now. The queue and the oldest items are always as of now.

formats:
  table  for a terminal: aligned columns, durations in words, 100 columns wide
  json   one object with stable keys; durations in seconds, date-times ISO 8601
  csv    one flat table with the header section,key,metric,value

exit status:
  0  the report was printed
  2  a usage error, and no report: an unknown option, --format or --group-by,
     an unreadable date, --since in the future, --until not after --since
  1  any other error
"""


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the epilog's lines kept as written."""


RELATIVE = re.compile(r"(?P<count>\d+)\s*(?P<unit>w|d|h|min)", re.IGNORECASE)
UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "min": timedelta(minutes=1),
}


def parse_moment(value: str) -> datetime:
    """An aware date-time from an ISO date, an ISO date-time or a time ago ('7d', '24h',
    '90min', '2w'); a naive one is in the current time zone. Unreadable: a usage error."""
    text = value.strip()
    match = RELATIVE.fullmatch(text)
    if match:
        return timezone.now() - int(match["count"]) * UNITS[match["unit"].lower()]
    try:
        moment = parse_datetime(text)  # an ISO date alone reads as its midnight
    except ValueError:  # well formed but impossible, such as 2024-02-30
        moment = None
    if moment is None:
        raise argparse.ArgumentTypeError(BAD_MOMENT.format(value=value))
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def local(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def label(choices, value: str) -> str:
    try:
        return choices(value).label
    except ValueError:
        return value


class Command(BaseCommand):
    help = textwrap.fill(
        "Report on the review queue for a window: the queue now (by failure and escalation "
        "level), items entering review and resolved, median and 90th percentile time in "
        "review, resolutions by method and by reason code with how often they worked, how "
        "often automatic retries worked, and the items waiting longest. The same numbers as "
        "the review dashboard and the review API's stats.",
        width=79,
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        return super().create_parser(prog_name, subcommand, epilog=EPILOG, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            type=parse_moment,
            metavar="WHEN",
            help="Start of the window (included): a date, a date-time or a time ago such as "
            "7d (default: 14d).",
        )
        parser.add_argument(
            "--until",
            type=parse_moment,
            metavar="WHEN",
            help="End of the window (excluded), read like --since (default: now).",
        )
        parser.add_argument(
            "--format", choices=FORMATS, default="table", help="Output format (default: table)."
        )
        parser.add_argument(
            "--group-by",
            choices=analytics.GROUP_KEYS,
            help="Also break entering review and resolutions down by this key (reason: the "
            "resolution's reason code).",
        )

    def handle(self, *args, since, until, format, group_by, **options):
        now = timezone.now()
        since = since if since is not None else now - DEFAULT_WINDOW
        if since > now:
            raise CommandError(SINCE_IN_FUTURE.format(since=iso(since, "seconds")), returncode=2)
        if until is not None and until <= since:
            raise CommandError(
                UNTIL_NOT_AFTER_SINCE.format(
                    until=iso(until, "seconds"), since=iso(since, "seconds")
                ),
                returncode=2,
            )
        data, _ = read_heavy(  # on the read replica when there is one (config.replica)
            lambda: analytics.review_report(
                since=since, until=until, group_by=group_by, oldest=OLDEST
            )
        )
        render = {"table": render_table, "json": render_json, "csv": render_csv}[format]
        self.stdout.write(render(data, now=now), ending="")


# --- JSON and CSV: the document and the flat table the dashboard's CSV download shares -------


def render_json(data: dict, *, now: datetime) -> str:
    return json.dumps(analytics.report_document(data, now=now), indent=2) + "\n"


def render_csv(data: dict, *, now: datetime) -> str:
    out = io.StringIO()
    report_csv(out, data, now=now, lineterminator="\n")  # the dashboard's download's table
    return out.getvalue()


# --- Table: for a terminal -------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    title: str
    align: str = ">"  # numbers right, words left
    shrink: bool = False  # may be cut (with "…") to fit WIDTH


def table(columns: list[Column], rows: list[list]) -> list[str]:
    """Aligned lines under a title row, no wider than WIDTH: the widest shrinkable column gives
    way first."""
    cells = [["-" if cell is None else str(cell) for cell in row] for row in rows]
    widths = [
        max([len(col.title)] + [len(row[i]) for row in cells]) for i, col in enumerate(columns)
    ]
    room = WIDTH - len(INDENT) - len(GAP) * (len(columns) - 1)
    while sum(widths) > room:
        shrinkable = [
            i for i, col in enumerate(columns) if col.shrink and widths[i] > max(len(col.title), 6)
        ]
        if not shrinkable:
            break
        widths[max(shrinkable, key=lambda i: widths[i])] -= 1

    def line(values: list[str], align=None) -> str:
        parts = []
        for value, col, width in zip(values, columns, widths, strict=True):
            if len(value) > width:
                value = value[: width - 1] + "…"
            parts.append(f"{value:{align or col.align}{width}}")
        return (INDENT + GAP.join(parts)).rstrip()

    return [line([col.title for col in columns], "<")] + [line(row) for row in cells]


OUTCOME_COLUMNS = [
    Column("Count"),
    Column("Worked"),
    Column("Came back"),
    Column("Not known yet"),
    Column("Success rate"),
]


def _outcome_cells(entry: dict) -> list:
    return [
        entry["count"],
        entry["success"],
        entry["failed"],
        entry["pending"],
        percent(entry["success_rate"]),
    ]


def _queue_lines(queue: dict) -> list[str]:
    if not queue["total"]:
        return ["In review now: nothing."]
    by_category = sorted(queue["by_category"].items(), key=lambda kv: (-kv[1], kv[0]))
    levels = sorted(queue["by_escalation_level"].items(), key=lambda kv: int(kv[0]))
    return [
        f"In review now: {plural(queue['total'], 'item')}",
        *table(
            [Column("Failure", "<", shrink=True), Column("Items")],
            [[failure_label(k), n] for k, n in by_category],
        ),
        "",
        *table(
            [Column("Escalation level", "<"), Column("Items")],
            [[escalation_label(k), n] for k, n in levels],
        ),
    ]


def _flow_lines(data: dict) -> list[str]:
    if not (data["entered"] or data["resolved"]):
        return ["Entering and leaving review: nothing entered review or was resolved."]
    days = [day for day in data["daily"] if day["entered"] or day["resolved"]]
    return [
        f"Entering and leaving review: {data['entered']} entered, {data['resolved']} resolved"
        " (days without either left out)",
        *table(
            [Column("Day", "<"), Column("Entered"), Column("Resolved")],
            [[day["day"].isoformat(), day["entered"], day["resolved"]] for day in days],
        ),
    ]


def _time_in_review_line(stats: dict) -> str:
    if not stats["resolved"]:
        return "Time in review: no resolutions in this window."
    return (
        f"Time in review ({plural(stats['resolved'], 'resolution')}): median "
        f"{duration_or_dash(stats['median_seconds'])}, 90th percentile "
        f"{duration_or_dash(stats['p90_seconds'])}"
    )


def _resolution_lines(data: dict) -> list[str]:
    if not data["resolved"]:
        return []
    reasons = [(k, e) for k, e in data["reason_codes"].items() if e["count"]]
    reasons.sort(key=lambda kv: (-kv[1]["count"], kv[0]))
    return [
        "Resolutions by method (worked: then completed by a bot without coming back to review)",
        *table(
            [Column("Method", "<", shrink=True), *OUTCOME_COLUMNS],
            [
                [label(ResolutionMethod, k), *_outcome_cells(e)]
                for k, e in data["resolutions"].items()
            ],
        ),
        "",
        "Resolutions by reason code",
        *table(
            [Column("Reason code", "<", shrink=True), *OUTCOME_COLUMNS],
            [[label(ReasonCode, k), *_outcome_cells(e)] for k, e in reasons],
        ),
    ]


def _retry_lines(retries: dict) -> list[str]:
    if not retries["count"]:
        return ["Automatic retries: no failure was retried in this window."]
    return [
        f"Automatic retries: {plural(retries['count'], 'failure')} retried "
        "(worked: then completed by a bot without going to review)",
        *table(
            [
                Column("Failure", "<", shrink=True),
                Column("Retried"),
                Column("Worked"),
                Column("Went to review"),
                Column("Not known yet"),
                Column("Success rate"),
            ],
            [
                *(
                    [failure_label(k), *_outcome_cells(e)]
                    for k, e in retries["by_category"].items()
                ),
                ["All", *_outcome_cells(retries)],
            ],
        ),
    ]


def _oldest_lines(oldest: list[dict]) -> list[str]:
    if not oldest:
        return ["Waiting longest: nothing is in review."]
    return [
        f"Waiting longest (up to {OLDEST}): {plural(len(oldest), 'item')}",
        *table(
            [
                Column("Item"),
                Column("Account", "<", shrink=True),
                Column("Platform", "<"),
                Column("Phase", "<", shrink=True),
                Column("Failure", "<", shrink=True),
                Column("Level", "<"),
                Column("Assignee", "<", shrink=True),
                Column("Waiting", "<"),
            ],
            [
                [
                    item["phase_id"],
                    item["account"],
                    label(Platform, item["platform"]),
                    item["phase_type"],
                    failure_label(item["failure_category"] or "none"),
                    f"L{item['escalation_level']}",
                    item["assignee"],
                    duration_or_dash(item["seconds_in_review"]),
                ]
                for item in oldest
            ],
        ),
    ]


GROUP_TITLES = {
    "category": "Failure",
    "phase_type": "Phase",
    "bot": "Bot",
    "platform": "Platform",
    "reason": "Reason code",
    "signature": "Incident",
}


def group_label(by: str, key: str, row: dict | None = None) -> str:
    if by == "signature" and row is not None:
        return f"{key} {row['title']}" if key != analytics.NO_CATEGORY else row["title"]
    if by == "category":
        return failure_label(key)
    if by == "platform":
        return label(Platform, key)
    if by == "reason":
        return label(ReasonCode, key)
    return key


def _breakdown_lines(by: str, rows: list[dict]) -> list[str]:
    title = f"By {GROUP_TITLES[by].lower()}: entering review and resolutions"
    if not rows:
        return [f"{title}: nothing entered review or was resolved."]
    if by == "reason":
        title += " (entering review has no reason code)"
    return [
        title,
        *table(
            [
                Column(GROUP_TITLES[by], "<", shrink=True),
                Column("Entered"),
                Column("Resolved"),
                *(Column(m.capitalize()) for m in ResolutionMethod.values),
                Column("Success rate"),
                Column("Median wait"),
            ],
            [
                [
                    group_label(by, row["key"], row),
                    row["entered"],
                    row["resolved"],
                    *(row["by_method"][m] for m in ResolutionMethod.values),
                    percent(row["success_rate"]),
                    duration_or_dash(row["median_seconds"]),
                ]
                for row in rows
            ],
        ),
    ]


def render_table(data: dict, *, now: datetime) -> str:
    since, until = data["since"], data["until"] or now
    sections = [
        [
            f"Review report: {local(since)} to {local(until)} "
            f"({timezone.get_current_timezone_name()}, {duration_display(until - since)})",
            f"The queue and the items waiting longest as of {local(now)}.",
        ],
        _queue_lines(data["queue"]),
        _flow_lines(data),
        [_time_in_review_line(data["time_in_review"])],
        _resolution_lines(data),
        _retry_lines(data["retries"]),
        _oldest_lines(data["oldest"]),
    ]
    if data["group_by"]:
        sections.append(_breakdown_lines(data["group_by"], data["breakdown"]))
    return "\n\n".join("\n".join(lines) for lines in sections if lines) + "\n"
