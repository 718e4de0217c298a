"""Review analytics: queue depth, time in review, and which resolutions work.

A resume or retry succeeded when the phase was later completed by a bot without returning to
review; it failed when the phase came back to review first; otherwise it is still pending.
Categories are the corrected ones (a recategorisation changes the phase's category, and the
resolution row records the category at resolution time).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime

from django.db.models import Count

from reviews.models import RESOLUTION_ACTIONS, ResolutionMethod, ReviewAction, ReviewLog
from reviews.selectors import review_queue
from warmup.models import CompletionMethod

RETURNS_TO_REVIEW = (ReviewAction.ESCALATED, ReviewAction.HELD)
AUTOMATED_RESOLUTIONS = (ResolutionMethod.RESUME, ResolutionMethod.RETRY)


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


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[int(q * 100) - 1]


def _resolution_outcome(resolution: ReviewLog, later_events: list[ReviewLog]) -> str:
    """success | failed | pending for one resume/retry resolution."""
    for event in later_events:
        if event.action in RETURNS_TO_REVIEW:
            return "failed"
    phase = resolution.phase
    if phase.completed_at and phase.completion_method == CompletionMethod.BOT:
        return "success"
    return "pending"


def review_stats(*, since: datetime | None = None) -> dict:
    """Queue depth now; time in review and resolutions by method over resolutions since `since`."""
    resolutions = ReviewLog.objects.filter(
        action__in=list(RESOLUTION_ACTIONS.values())
    ).select_related("phase")
    if since is not None:
        resolutions = resolutions.filter(created_at__gte=since)
    resolutions = list(resolutions.order_by("created_at", "id"))

    later_by_phase: dict[int, list[ReviewLog]] = defaultdict(list)
    phase_ids = {r.phase_id for r in resolutions if r.resolution_method in AUTOMATED_RESOLUTIONS}
    if phase_ids:
        for event in ReviewLog.objects.filter(
            phase_id__in=phase_ids, action__in=RETURNS_TO_REVIEW
        ).order_by("created_at", "id"):
            later_by_phase[event.phase_id].append(event)

    waits = [r.time_in_review.total_seconds() for r in resolutions if r.time_in_review]
    methods = {}
    for method in ResolutionMethod.values:
        rows = [r for r in resolutions if r.resolution_method == method]
        entry = {
            "count": len(rows),
            "success": None,
            "failed": None,
            "pending": None,
            "success_rate": None,
        }
        if method in AUTOMATED_RESOLUTIONS:
            tally = {"success": 0, "failed": 0, "pending": 0}
            for row in rows:
                later = [
                    e
                    for e in later_by_phase.get(row.phase_id, [])
                    if (e.created_at, e.id) > (row.created_at, row.id)
                ]
                tally[_resolution_outcome(row, later)] += 1
            decided = tally["success"] + tally["failed"]
            entry.update(tally)
            entry["success_rate"] = round(tally["success"] / decided, 4) if decided else None
        methods[method] = entry

    return {
        "since": since,
        "queue": queue_depth(),
        "time_in_review": {
            "resolved": len(waits),
            "median_seconds": statistics.median(waits) if waits else None,
            "p90_seconds": _percentile(waits, 0.9),
        },
        "resolutions": methods,
    }
