"""The review dashboard: one admin page where reviewers and operators see the queue now, the flow
in and out of review per day, how long items wait, which resolutions work and where escalations
come from. Every number comes from `warmup.selectors.analytics` (as the review API's stats do).

URL `/admin/reviews/dashboard/` (name `reviews-dashboard`, wired in `config.urls` through
`admin.site.admin_view`), for staff users who may view the review queue; others get 403.

`?days=N` (1..90; anything else falls back to 14): the window is the last N calendar days,
today included (from midnight N-1 days ago until now). The queue and the oldest items are "now".

`?format=csv` downloads the window's numbers as the one flat table `manage.py review_report
--format csv` prints for the same window (`analytics.report_rows`, columns
`section,key,metric,value`): the window, the queue now, entering and leaving review per day,
time in review, resolutions by method and by reason code, automatic retries, the phase types,
platforms and bots escalated most and the items waiting longest. Every cell goes through
`config.text.write_csv`, so a name that starts like a formula is not run by a spreadsheet.

An empty value means "no data" (no median without resolutions; no success rate for complete and
skip). Side effects: none (read-only).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pygal
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from pygal.etree import etree
from pygal.style import Style

from config.replica import read_heavy
from config.text import duration_display, write_csv
from reviews.admin import live
from reviews.permissions import can_view_reviews
from warmup.domain.choices import AUTOMATED_RESOLUTIONS, ReasonCode, ResolutionMethod
from warmup.models import FailureCategory, Platform
from warmup.selectors import analytics
from warmup.selectors.filters import escalation_label

TEMPLATE = "admin/reviews/dashboard.html"
LIVE_TEMPLATE = "admin/reviews/live/dashboard.html"
DEFAULT_DAYS = 14
MAX_DAYS = 90
DAY_CHOICES = (7, 14, 30, 90)
TOP = 5
OLDEST = 10
OUTCOMES = ("success", "failed", "pending")


# --- The window ------------------------------------------------------------------------------


def window_days(value: str | None) -> int:
    """`?days=` as a number of days, 1..90; anything else is the default 14."""
    try:
        days = int(value or "")
    except ValueError:
        return DEFAULT_DAYS
    return days if 1 <= days <= MAX_DAYS else DEFAULT_DAYS


def window_start(days: int) -> datetime:
    """Midnight (current time zone) of the first of the last `days` days, today included."""
    first = timezone.localdate() - timedelta(days=days - 1)
    return timezone.make_aware(datetime.combine(first, datetime.min.time()))


# --- Words -----------------------------------------------------------------------------------


def _label(choices, value) -> str:
    try:
        return choices(value).label
    except ValueError:
        return value or "none"


def failure_label(category: str) -> str:
    """The category's name; an item a reviewer held has none: its hold is its last failure."""
    if category in ("", "none"):
        return "Held by a reviewer"
    return _label(FailureCategory, category)


def duration_or_dash(seconds: float | None) -> str:
    return "-" if seconds is None else duration_display(seconds)


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f} %"


# --- Charts: pygal SVG, inlined, nothing fetched -----------------------------------------------


def _style(*colors: str) -> Style:
    return Style(
        background="transparent",
        plot_background="transparent",
        foreground="var(--body-fg, #333)",
        foreground_strong="var(--body-fg, #333)",
        foreground_subtle="var(--hairline-color, #ddd)",
        font_family="var(--font-family-primary, sans-serif)",
        label_font_size=13,
        major_label_font_size=13,
        value_font_size=13,
        legend_font_size=13,
        tooltip_font_size=13,
        guide_stroke_color="var(--hairline-color, #ddd)",
        major_guide_stroke_color="var(--hairline-color, #ddd)",
        guide_stroke_dasharray="none",
        major_guide_stroke_dasharray="none",
        opacity="0.9",
        opacity_hover="1",
        transition="none",
        colors=colors,
    )


BLUE, GREEN, RED, AMBER, GREY = "#417690", "#2e8540", "#ba2121", "#c98a0c", "#8a8a8a"


def _no_script_no_comments(root):
    """pygal writes its config into a <script> even with js=[]: the page needs no JavaScript,
    and no label should end up inside a script. Comments only name pygal's website."""
    for parent in root.iter():
        for child in list(parent):
            if child.tag is etree.Comment or str(child.tag).rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return root


# js=[] keeps pygal from linking its tooltip script from a CDN; its two default stylesheets are
# files of the package, inlined into the SVG (no URL is fetched).
CHART_CONFIG = {
    "style": _style(BLUE, GREEN),
    "js": [],
    "css": ["file://style.css", "file://graph.css"],
    "disable_xml_declaration": True,
    "show_legend": False,
    "margin": 8,
    "spacing": 8,
    "width": 640,
}


def count_axis(top: int) -> dict:
    """Whole-number ticks from 0 to at least `top` (counts have no 0.2 of an item)."""
    step = max(1, -(-top // 6))
    ticks = list(range(0, max(top, 1) + step, step))
    return {"y_labels": ticks, "range": (0, ticks[-1])}


def render_chart(chart) -> str:
    """The chart as SVG markup to inline in the page (escaped by the XML serializer)."""
    chart.add_xml_filter(_no_script_no_comments)
    return mark_safe(chart.render(is_unicode=True))


def sparkline(values: list[int], *, width: int = 120, height: int = 28) -> str:
    """A small line of counts, oldest first, to sit in a table's row: no axes, its shape says
    whether something is starting, growing or over. A few hundred bytes of SVG (pygal's
    sparkline inlines 9 kB of style per chart), with the numbers in its title."""
    values = values or [0]
    top, step = max(max(values), 1), width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-label="{label}"><title>{label}</title>'
        '<polyline points="0,{h} {points} {w},{h}" fill="{fill}" stroke="none"/>'
        '<polyline points="{points}" fill="none" stroke="{line}" stroke-width="1.5"/></svg>',
        w=width,
        h=height,
        points=points,
        fill="rgba(186, 33, 33, 0.15)",
        line=RED,
        label="Per hour, oldest first: " + ", ".join(map(str, values)),
    )


def bar_chart(rows: list[tuple[str, int]], *, series: str) -> str:
    """One series of labelled counts, as horizontal bars (long labels stay readable), the first
    row on top."""
    rows = rows[::-1]  # pygal draws the first label at the bottom
    chart = pygal.HorizontalBar(
        **CHART_CONFIG, height=60 + 34 * len(rows), **count_axis(max(n for _, n in rows))
    )
    chart.x_labels = [label for label, _ in rows]
    chart.add(series, [n for _, n in rows])
    return render_chart(chart)


def daily_chart(daily: list[dict]) -> str:
    """Entered review and resolved, side by side per day."""
    chart = pygal.Bar(
        **{**CHART_CONFIG, "width": 900, "show_legend": True},
        height=300,
        legend_at_bottom=True,
        x_labels_major_every=max(1, len(daily) // 12),
        show_minor_x_labels=False,
        truncate_label=-1,
        **count_axis(max(max(d["entered"], d["resolved"]) for d in daily)),
    )
    chart.x_labels = [f"{d['day'].day} {d['day']:%b}" for d in daily]
    chart.add("Entered review", [d["entered"] for d in daily])
    chart.add("Resolved", [d["resolved"] for d in daily])
    return render_chart(chart)


def outcome_chart(rows: list[dict]) -> str:
    """Resolutions per method, stacked by what happened next."""
    chart = pygal.HorizontalStackedBar(
        **{**CHART_CONFIG, "style": _style(GREEN, RED, AMBER, GREY), "show_legend": True},
        height=110 + 40 * len(rows),
        legend_at_bottom=True,
        legend_at_bottom_columns=2,
        truncate_legend=-1,
        **count_axis(max(row["count"] for row in rows)),
    )
    rows = rows[::-1]  # pygal draws the first label at the bottom
    chart.x_labels = [row["label"] for row in rows]
    chart.add("Worked", [row["success"] or None for row in rows])
    chart.add("Came back to review", [row["failed"] or None for row in rows])
    chart.add("Not known yet", [row["pending"] or None for row in rows])
    chart.add("Done by hand", [row["manual"] or None for row in rows])
    return render_chart(chart)


# --- The page --------------------------------------------------------------------------------


def _resolution_rows(entries: dict, choices) -> list[dict]:
    rows = []
    for key, entry in entries.items():
        rows.append(
            {
                "key": key,
                "label": _label(choices, key),
                "count": entry["count"],
                "success": entry["success"],
                "failed": entry["failed"],
                "pending": entry["pending"],
                "automated_count": sum(entry[k] or 0 for k in OUTCOMES),
                "manual": entry["count"] - sum(entry[k] or 0 for k in OUTCOMES),
                # resume and retry: their success is a bot's later completion
                "automated": key in AUTOMATED_RESOLUTIONS,
                "success_rate": percent(entry["success_rate"]),
            }
        )
    return rows


def queue_now(queue: dict) -> dict:
    """The items in review now, in words: in total, by failure and by escalation level (from
    `analytics.queue_depth`; the page and its live counts, `reviews.admin.live`, show these)."""
    return {
        "queue_total": queue["total"],
        "queue_by_category": sorted(
            ((failure_label(k), n) for k, n in queue["by_category"].items()),
            key=lambda row: (-row[1], row[0]),
        ),
        "queue_by_level": [
            (escalation_label(k), queue["by_escalation_level"][k])
            for k in sorted(queue["by_escalation_level"], key=int)
        ],
    }


def page_context(data: dict, days: int) -> dict:
    """What the template shows, in words and with its charts, from `analytics.review_dashboard`."""
    now = queue_now(data["queue"])
    by_category, by_level = now["queue_by_category"], now["queue_by_level"]
    daily = data["daily"]
    methods = _resolution_rows(data["resolutions"], ResolutionMethod)
    reasons = [row for row in _resolution_rows(data["reason_codes"], ReasonCode) if row["count"]]
    reasons.sort(key=lambda row: -row["count"])
    top = data["top_escalations"]
    time_in_review = data["time_in_review"]
    return {
        "days": days,
        "day_choices": DAY_CHOICES,
        "since": data["since"],
        **now,
        "queue_category_chart": bar_chart(by_category, series="Items") if by_category else "",
        "queue_level_chart": bar_chart(by_level, series="Items") if by_level else "",
        "daily": daily[::-1],  # the table: newest day first
        "daily_chart": daily_chart(daily),
        "entered_total": sum(d["entered"] for d in daily),
        "resolved_total": sum(d["resolved"] for d in daily),
        "resolved_count": time_in_review["resolved"],
        "median": duration_or_dash(time_in_review["median_seconds"]),
        "p90": duration_or_dash(time_in_review["p90_seconds"]),
        "methods": methods,
        "methods_chart": outcome_chart(methods) if time_in_review["resolved"] else "",
        "reasons": reasons,
        "reasons_chart": (
            bar_chart([(r["label"], r["count"]) for r in reasons], series="Resolutions")
            if reasons
            else ""
        ),
        "top_escalations": [
            ("phase types", top["phase_type"], "Phase type"),
            ("platforms", [(_label(Platform, k), n) for k, n in top["platform"]], "Platform"),
            ("bots", top["bot"], "Bot"),
        ],
        "oldest": [
            {
                **item,
                "failure": failure_label(item["failure_category"]),
                "platform_label": _label(Platform, item["platform"]),
                "level": escalation_label(item["escalation_level"]),
                "age": duration_or_dash(item["seconds_in_review"]),
            }
            for item in data["oldest"]
        ],
    }


def report_csv(out, data: dict, *, now: datetime, lineterminator: str = "\r\n") -> None:
    """The review report `data` (`analytics.review_report`) as its one flat CSV table
    (section,key,metric,value): the dashboard's download and `review_report --format csv`
    both write it here, so the two have the same columns and rows for the same window."""
    document = analytics.report_document(data, now=now)
    write_csv(out, analytics.report_rows(document), lineterminator=lineterminator)


def csv_response(days: int) -> HttpResponse:
    """The window's numbers as review_report's CSV table, as a download."""
    now = timezone.now()
    data, _ = read_heavy(
        lambda: analytics.review_report(since=window_start(days), top=TOP, oldest=OLDEST)
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="review-dashboard-{days}d-{stamp}.csv"'
    report_csv(response, data, now=now)
    return response


def dashboard_view(request):
    """The review dashboard (HTML, or CSV with `?format=csv`). Read-only."""
    if not can_view_reviews(request.user):
        raise PermissionDenied
    days = window_days(request.GET.get("days"))
    if request.GET.get("format") == "csv":
        return csv_response(days)
    data, source = read_heavy(
        lambda: analytics.review_dashboard(since=window_start(days), top=TOP, oldest=OLDEST)
    )
    context = {
        **admin.site.each_context(request),
        "title": "Review dashboard",
        **page_context(data, days),
        "live_url": reverse("reviews-dashboard-live"),
        "poll_seconds": live.POLL_SECONDS,
        "source": source,
    }
    return TemplateResponse(request, TEMPLATE, context)


def dashboard_live_view(request):
    """The dashboard's poll (`reviews.admin.live`): the items in review now, in total, by
    failure and by escalation level, from the one grouped count of the queue."""
    if not can_view_reviews(request.user):
        raise PermissionDenied
    depth, _ = read_heavy(analytics.queue_depth)
    return TemplateResponse(request, LIVE_TEMPLATE, queue_now(depth))
