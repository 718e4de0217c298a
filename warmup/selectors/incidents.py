"""Incidents: the items in review grouped by what sent them there (their failure signature,
`warmup.domain.signatures`). An incident is open while one of its items waits in review.

Every read here is grouped over the open signatures only: the queue's signature index gives the
counts, the attempts' signature index the trend and the last failure, so a page of incidents
costs a handful of queries whatever the size of the fleet.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from warmup.models import FailureSignature, PhaseAttempt, PhaseStatus, WarmupPhase

TREND_HOURS = 24
TOP = 3  # platforms, bots and plan steps named per incident


@dataclass
class Incident:
    signature: str
    title: str = ""
    category: str = ""
    phase_type: str = ""
    waiting: int = 0  # items of the signature in review now
    new_last_hour: int = 0  # of those, how many came in the last hour (the growth)
    first_seen: datetime | None = None  # the signature's first failure
    last_seen: datetime | None = None  # its latest failure (or entry to review, for a hold)
    trend: list[int] = field(default_factory=list)  # failures per hour, the last 24, oldest first
    platforms: list[tuple[str, int]] = field(default_factory=list)  # top 3, with counts
    bots: list[tuple[str, int]] = field(default_factory=list)
    steps: list[tuple[str, int]] = field(default_factory=list)


def _in_review():
    return WarmupPhase.objects.filter(
        status=PhaseStatus.REVIEW_REQUIRED, review_signature__isnull=False
    )


def largest_incidents(*, limit: int | None = None) -> list[Incident]:
    """The open incidents, largest first (then the fastest growing, then the newest), with
    their title and counts only: one grouped query over the queue's signature index, one for
    the titles."""
    hour_ago = timezone.now() - timedelta(hours=1)
    grouped = (
        _in_review()
        .values("review_signature")
        .annotate(
            waiting=Count("id"),
            new_last_hour=Count("id", filter=Q(review_required_since__gte=hour_ago)),
            newest=Max("review_required_since"),
        )
        .order_by("-waiting", "-new_last_hour", "-newest", "review_signature")
    )
    if limit is not None:
        grouped = grouped[:limit]
    rows = list(grouped)
    titles = FailureSignature.objects.in_bulk([row["review_signature"] for row in rows])
    incidents = []
    for row in rows:
        known = titles.get(row["review_signature"])
        incidents.append(
            Incident(
                signature=row["review_signature"],
                title=known.title if known else row["review_signature"],
                category=known.category if known else "",
                phase_type=known.phase_type if known else "",
                waiting=row["waiting"],
                new_last_hour=row["new_last_hour"],
                first_seen=known.first_seen_at if known else None,
                last_seen=row["newest"],
            )
        )
    return incidents


def open_incidents(*, limit: int | None = None, now: datetime | None = None) -> list[Incident]:
    """`largest_incidents` with what the incidents page shows of each: the 24-hour trend of
    failures, the last failure, and the platforms, bots and plan steps most affected."""
    now = now or timezone.now()
    incidents = largest_incidents(limit=limit)
    by_key = {incident.signature: incident for incident in incidents}
    if not by_key:
        return incidents
    _add_trends(by_key, now=now)
    _add_spread(by_key)
    return incidents


def incident(signature: str, *, now: datetime | None = None) -> Incident | None:
    """One incident as `open_incidents` shows it, open or not (None: no such signature)."""
    known = FailureSignature.objects.filter(pk=signature).first()
    if known is None:
        return None
    one = Incident(
        signature=known.key,
        title=known.title,
        category=known.category,
        phase_type=known.phase_type,
        first_seen=known.first_seen_at,
    )
    counts = (
        _in_review()
        .filter(review_signature=signature)
        .aggregate(
            waiting=Count("id"),
            new_last_hour=Count(
                "id",
                filter=Q(review_required_since__gte=(now or timezone.now()) - timedelta(hours=1)),
            ),
            newest=Max("review_required_since"),
        )
    )
    one.waiting, one.new_last_hour, one.last_seen = (
        counts["waiting"],
        counts["new_last_hour"],
        counts["newest"],
    )
    _add_trends({signature: one}, now=now or timezone.now())
    _add_spread({signature: one})
    return one


def _add_trends(by_key: dict[str, Incident], *, now: datetime) -> None:
    """Failures per hour over the last 24 and the latest failure of each signature (two
    grouped reads of the attempts' signature index)."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=TREND_HOURS - 1)
    hourly = (
        PhaseAttempt.objects.filter(signature__in=list(by_key), finished_at__gte=start)
        .annotate(hour=TruncHour("finished_at"))
        .values("signature", "hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    for incident in by_key.values():
        incident.trend = [0] * TREND_HOURS
    for row in hourly:
        slot = int((row["hour"] - start).total_seconds() // 3600)
        if 0 <= slot < TREND_HOURS:
            by_key[row["signature"]].trend[slot] += row["n"]
    latest = (
        PhaseAttempt.objects.filter(signature__in=list(by_key))
        .values("signature")
        .annotate(last=Max("finished_at"))
        .order_by()
    )
    for row in latest:
        incident = by_key[row["signature"]]
        incident.last_seen = max(filter(None, (incident.last_seen, row["last"])))


def incident_sizes():
    """The size of each open incident (items in review per signature), from the queue's
    signature index."""
    return (
        _in_review()
        .values("review_signature")
        .annotate(n=Count("id"))
        .values_list("n", flat=True)
        .order_by()
    )


def incident_totals() -> tuple[int, int]:
    """How many incidents are open, and how many items the largest holds (`/metrics`)."""
    sizes = list(incident_sizes())
    return len(sizes), max(sizes, default=0)


def _top(counter: Counter) -> list[tuple[str, int]]:
    return counter.most_common(TOP)


def _add_spread(by_key: dict[str, Incident]) -> None:
    """The platforms, bots and plan steps of each incident's waiting items, most first (one
    grouped read of the items in review of these signatures)."""
    platforms, bots, steps = defaultdict(Counter), defaultdict(Counter), defaultdict(Counter)
    rows = (
        _in_review()
        .filter(review_signature__in=list(by_key))
        .values("review_signature", "platform", "bot__name", "template__name")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        key = row["review_signature"]
        platforms[key][row["platform"]] += row["n"]
        bots[key][row["bot__name"] or "(none)"] += row["n"]
        steps[key][row["template__name"]] += row["n"]
    for key, incident in by_key.items():
        incident.platforms = _top(platforms[key])
        incident.bots = _top(bots[key])
        incident.steps = _top(steps[key])
