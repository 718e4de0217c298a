"""Review analytics: queue depth, flow in and out of review, time in review, which resolutions
work and where escalations come from. The review API's stats and the review dashboard both read
their numbers from here, so the two always agree.

A resume or retry succeeded when the phase was later completed by a bot without returning to
review; it failed when the phase came back to review first; otherwise it is still pending.
Categories are the corrected ones (a recategorisation changes the phase's category, and the
resolution row records the category at resolution time).

Windows: `since` is inclusive, `until` exclusive; either may be None (no bound). The queue and
the oldest items are always "now".
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from reviews.models import (
    RESOLUTION_ACTIONS,
    ReasonCode,
    ResolutionMethod,
    ReviewAction,
    ReviewLog,
)
from reviews.selectors import review_queue
from warmup.models import CompletionMethod, PhaseAttempt

ENTERS_REVIEW = (ReviewAction.ESCALATED, ReviewAction.HELD)
RETURNS_TO_REVIEW = ENTERS_REVIEW
RESOLVES_REVIEW = tuple(RESOLUTION_ACTIONS.values())
AUTOMATED_RESOLUTIONS = (ResolutionMethod.RESUME, ResolutionMethod.RETRY)
NO_BOT = "(no bot)"


def _in_window(rows: QuerySet, since: datetime | None, until: datetime | None) -> QuerySet:
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return rows


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[int(q * 100) - 1]


# --- The queue now ---------------------------------------------------------------------------


def queue_depth() -> dict:
    rows = review_queue().order_by().values("last_failure_category", "escalation_level")
    rows = rows.annotate(n=Count("id"))
    by_category: dict[str, int] = defaultdict(int)
    by_level: dict[str, int] = defaultdict(int)
    total = 0
    for row in rows:
        by_category[row["last_failure_category"] or "none"] += row["n"]
        by_level[str(row["escalation_level"])] += row["n"]
        total += row["n"]
    return {"total": total, "by_category": dict(by_category), "by_escalation_level": dict(by_level)}


def oldest_in_review(*, limit: int = 10, now: datetime | None = None) -> list[dict]:
    """The `limit` items longest in review (oldest review clock first), one query."""
    now = now or timezone.now()
    items = review_queue().order_by("review_required_since", "id")[:limit]
    return [
        {
            "phase_id": item.pk,
            "account": item.account.username,
            "platform": item.account.platform,
            "phase_type": item.phase_type,
            "failure_category": item.last_failure_category,
            "escalation_level": item.escalation_level,
            "assignee": item.review_assignee.get_username() if item.review_assignee else None,
            "review_required_since": item.review_required_since,
            "seconds_in_review": (
                int((now - item.review_required_since).total_seconds())
                if item.review_required_since
                else None
            ),
        }
        for item in items
    ]


# --- Resolutions: time in review, by method, by reason code ----------------------------------


@dataclass(frozen=True)
class Resolution:
    """One resolution row as the analytics count it."""

    method: str
    reason_code: str
    seconds_in_review: float | None
    outcome: str | None  # success | failed | pending for resume and retry; None otherwise


def _resolution_outcome(resolution: ReviewLog, later_events: list[ReviewLog]) -> str:
    """success | failed | pending for one resume/retry resolution."""
    for event in later_events:
        if event.action in RETURNS_TO_REVIEW:
            return "failed"
    phase = resolution.phase
    if phase.completed_at and phase.completion_method == CompletionMethod.BOT:
        return "success"
    return "pending"


def resolutions(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    category: str | None = None,
    phase_type: str | None = None,
) -> list[Resolution]:
    """The resolutions in the window (of items that failed with `category`, of `phase_type`,
    when given), oldest first, each with its outcome (two queries)."""
    rows = _in_window(
        ReviewLog.objects.filter(action__in=RESOLVES_REVIEW).select_related("phase"), since, until
    )
    if category is not None:
        rows = rows.filter(failure_category=category)
    if phase_type is not None:
        rows = rows.filter(phase__phase_type=phase_type)
    rows = list(rows.order_by("created_at", "id"))

    later_by_phase: dict[int, list[ReviewLog]] = defaultdict(list)
    phase_ids = {r.phase_id for r in rows if r.resolution_method in AUTOMATED_RESOLUTIONS}
    if phase_ids:
        for event in ReviewLog.objects.filter(
            phase_id__in=phase_ids, action__in=RETURNS_TO_REVIEW
        ).order_by("created_at", "id"):
            later_by_phase[event.phase_id].append(event)

    result = []
    for row in rows:
        outcome = None
        if row.resolution_method in AUTOMATED_RESOLUTIONS:
            later = [
                e
                for e in later_by_phase.get(row.phase_id, [])
                if (e.created_at, e.id) > (row.created_at, row.id)
            ]
            outcome = _resolution_outcome(row, later)
        seconds = row.time_in_review.total_seconds() if row.time_in_review else None
        result.append(Resolution(row.resolution_method, row.reason_code, seconds, outcome))
    return result


def time_in_review(rows: list[Resolution]) -> dict:
    """How many resolutions, and the median and 90th percentile of their time in review."""
    waits = [r.seconds_in_review for r in rows if r.seconds_in_review is not None]
    return {
        "resolved": len(waits),
        "median_seconds": statistics.median(waits) if waits else None,
        "p90_seconds": _percentile(waits, 0.9),
    }


def _tally(rows: list[Resolution]) -> dict:
    """Count, and success/failed/pending with a success rate over the automated ones (None
    where none of the rows is a resume or a retry)."""
    entry = {
        "count": len(rows),
        "success": None,
        "failed": None,
        "pending": None,
        "success_rate": None,
    }
    automated = [r for r in rows if r.outcome is not None]
    if automated:
        tally = {"success": 0, "failed": 0, "pending": 0}
        for row in automated:
            tally[row.outcome] += 1
        decided = tally["success"] + tally["failed"]
        entry.update(tally)
        entry["success_rate"] = round(tally["success"] / decided, 4) if decided else None
    return entry


def by_method(rows: list[Resolution]) -> dict:
    """Every resolution method: count, and outcomes with a success rate for resume and retry
    (zeros there when none happened; None for complete and skip)."""
    methods = {}
    for method in ResolutionMethod.values:
        entry = _tally([r for r in rows if r.method == method])
        if method in AUTOMATED_RESOLUTIONS and entry["success"] is None:
            entry.update(success=0, failed=0, pending=0)
        methods[method] = entry
    return methods


def by_reason_code(rows: list[Resolution]) -> dict:
    """Every reason code: count, and the outcomes of its resumes and retries (None if none)."""
    return {code: _tally([r for r in rows if r.reason_code == code]) for code in ReasonCode.values}


TRACK_RECORD_DAYS = 90


def track_record(
    *, category: str, phase_type: str | None = None, now: datetime | None = None
) -> list[dict]:
    """What worked before for this kind of failure: the last 90 days' resolutions of items that
    failed with `category` (of `phase_type` too, when that has any), by method and reason code,
    each with how often the phase then completed without coming back to review. Best first:
    the highest success rate, then the most used."""
    since = (now or timezone.now()) - timedelta(days=TRACK_RECORD_DAYS)
    rows = resolutions(since=since, category=category, phase_type=phase_type)
    if not rows and phase_type is not None:
        rows = resolutions(since=since, category=category)
    groups: dict[tuple[str, str], list[Resolution]] = defaultdict(list)
    for row in rows:
        groups[(row.method, row.reason_code)].append(row)
    record = [
        {"method": method, "reason_code": code, **_tally(group)}
        for (method, code), group in groups.items()
    ]
    record.sort(key=lambda e: (-(e["success_rate"] or 0), -e["count"], e["method"]))
    return record


def resolutions_by_method(*, since: datetime | None = None, until: datetime | None = None) -> dict:
    return by_method(resolutions(since=since, until=until))


def resolutions_by_reason_code(
    *, since: datetime | None = None, until: datetime | None = None
) -> dict:
    return by_reason_code(resolutions(since=since, until=until))


def review_stats(*, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Queue depth now; time in review and resolutions by method over the window's resolutions.
    The review API's stats: keep the shape."""
    rows = resolutions(since=since, until=until)
    return {
        "since": since,
        "queue": queue_depth(),
        "time_in_review": time_in_review(rows),
        "resolutions": by_method(rows),
    }


# --- Flow in and out of review, and where escalations come from ------------------------------


def daily_flow(*, since: datetime, until: datetime | None = None) -> list[dict]:
    """Per day (in the current time zone) from since's day to until's (or today): items that
    entered review (escalated or held) and items resolved. Days without events count 0."""
    tz = timezone.get_current_timezone()
    rows = _in_window(
        ReviewLog.objects.filter(action__in=ENTERS_REVIEW + RESOLVES_REVIEW), since, until
    )
    counts = {
        row["day"]: row
        for row in rows.order_by()
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(
            entered=Count("id", filter=Q(action__in=ENTERS_REVIEW)),
            resolved=Count("id", filter=Q(action__in=RESOLVES_REVIEW)),
        )
    }
    end = until - timedelta(microseconds=1) if until else timezone.now()
    first, last = timezone.localtime(since, tz).date(), timezone.localtime(end, tz).date()
    days: list[date] = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [
        {
            "day": day,
            "entered": counts.get(day, {}).get("entered", 0),
            "resolved": counts.get(day, {}).get("resolved", 0),
        }
        for day in days
    ]


def _escalating_bot():
    """The bot whose failure sent the phase to review: the reporting bot, or for a lease that
    expired (a system event) the bot of the last attempt claimed before it."""
    last_attempt = PhaseAttempt.objects.filter(
        phase_id=OuterRef("phase_id"), claimed_at__lte=OuterRef("created_at")
    ).order_by("-claimed_at", "-number")
    return Coalesce("actor_bot__name", Subquery(last_attempt.values("bot__name")[:1]))


def top_escalations(
    *, since: datetime | None = None, until: datetime | None = None, limit: int = 5
) -> dict[str, list[tuple[str, int]]]:
    """The phase types, platforms and bots whose failures were escalated to review most often
    in the window (holds by reviewers are not escalations): `limit` of each, most first."""
    rows = _in_window(ReviewLog.objects.filter(action=ReviewAction.ESCALATED), since, until)
    groups = {
        "phase_type": rows.values(key=F("phase__phase_type")),
        "platform": rows.values(key=F("account__platform")),
        "bot": rows.values(key=_escalating_bot()),
    }
    top = {}
    for name, grouped in groups.items():
        counted = grouped.order_by().annotate(n=Count("id")).order_by("-n", "key")[:limit]
        top[name] = [(row["key"] or NO_BOT, row["n"]) for row in counted]
    return top


# --- Everything the dashboard shows ----------------------------------------------------------


def review_dashboard(
    *, since: datetime, until: datetime | None = None, top: int = 5, oldest: int = 10
) -> dict:
    """The review dashboard's numbers for one window (a fixed number of queries)."""
    rows = resolutions(since=since, until=until)
    return {
        "since": since,
        "until": until,
        "queue": queue_depth(),
        "daily": daily_flow(since=since, until=until),
        "time_in_review": time_in_review(rows),
        "resolutions": by_method(rows),
        "reason_codes": by_reason_code(rows),
        "top_escalations": top_escalations(since=since, until=until, limit=top),
        "oldest": oldest_in_review(limit=oldest),
    }
