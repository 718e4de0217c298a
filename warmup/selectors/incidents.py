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

from django.db.models import (
    Count,
    DateTimeField,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.utils import timezone

from warmup.models import (
    Bot,
    FailureSignature,
    PhaseAttempt,
    PhaseStatus,
    PhaseTemplate,
    WarmupPhase,
)

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


class HoursSince(Func):
    """Whole hours from `start` to a datetime column, as the database counts them: an integer,
    so a grouped read of thousands of rows needs no time zone conversion per row in Python."""

    arg_joiner = " - "
    output_field = IntegerField()
    # DATE_PART is a double precision; EXTRACT's numeric costs more per row.
    template = "FLOOR(DATE_PART('epoch', %(expressions)s) / 3600)"

    def __init__(self, column: str, start: datetime):
        super().__init__(column, Value(start, output_field=DateTimeField()))

    def as_sqlite(self, compiler, connection, **extra):
        # Whole seconds of the stored text (STRFTIME would round its fraction up to the next
        # second), then integer division: exact, no floating point day fractions.
        (column, column_params), (start, start_params) = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        sql = (
            f"((STRFTIME('%%s', SUBSTR({column}, 1, 19)) "
            f"- STRFTIME('%%s', SUBSTR({start}, 1, 19))) / 3600)"
        )
        return sql, (*column_params, *start_params)


def _in_review():
    return WarmupPhase.objects.filter(
        status=PhaseStatus.REVIEW_REQUIRED, review_signature__isnull=False
    )


# What one grouped read of the queue's signature index gives per group: the items waiting, how
# many came in the last hour, the newest. With `spread`, the groups are also by platform, bot
# and plan step, which the index carries (so it is read alone, no table, no join).
SPREAD = ("platform", "bot_id", "template_id")


def _incidents(
    *, signatures: list[str] | None = None, spread: bool = False, now: datetime | None = None
) -> list[Incident]:
    """The open incidents of `signatures` (None: all), largest first (then the fastest
    growing, then the newest), from one grouped read of the items in review, and one of the
    signatures' titles; with `spread`, each incident's platforms, bots and plan steps."""
    hour_ago = (now or timezone.now()) - timedelta(hours=1)
    rows = _in_review()
    if signatures is not None:
        rows = rows.filter(review_signature__in=signatures)
    rows = (
        rows.values("review_signature", *(SPREAD if spread else ()))
        .annotate(
            waiting=Count("id"),
            new_last_hour=Count("id", filter=Q(review_required_since__gte=hour_ago)),
            newest=Max("review_required_since"),
        )
        .order_by()
    )
    by_key: dict[str, Incident] = {}
    spreads = defaultdict(lambda: (Counter(), Counter(), Counter()))
    for row in rows:
        key = row["review_signature"]
        one = by_key.setdefault(key, Incident(signature=key))
        one.waiting += row["waiting"]
        one.new_last_hour += row["new_last_hour"]
        one.last_seen = max(filter(None, (one.last_seen, row["newest"])))
        if spread:
            platforms, bots, steps = spreads[key]
            platforms[row["platform"]] += row["waiting"]
            bots[row["bot_id"]] += row["waiting"]
            steps[row["template_id"]] += row["waiting"]
    for known in FailureSignature.objects.filter(pk__in=list(by_key)):
        one = by_key[known.key]
        one.title, one.category, one.phase_type = known.title, known.category, known.phase_type
        one.first_seen = known.first_seen_at
    if spread:
        _name_spread(by_key, spreads)
    return sorted(
        by_key.values(),
        key=lambda one: (
            -one.waiting,
            -one.new_last_hour,
            -one.last_seen.timestamp(),
            one.signature,
        ),
    )


def _name_spread(by_key: dict[str, Incident], spreads: dict) -> None:
    """Each incident's top platforms, bots and plan steps, by name (the bots and steps named
    in one small read each)."""
    bot_ids = {bot for _, bots, _ in spreads.values() for bot in bots if bot is not None}
    step_ids = {step for _, _, steps in spreads.values() for step in steps}
    bot_names = dict(Bot.objects.filter(pk__in=bot_ids).values_list("pk", "name"))
    step_names = dict(PhaseTemplate.objects.filter(pk__in=step_ids).values_list("pk", "name"))
    for key, (platforms, bots, steps) in spreads.items():
        one = by_key[key]
        one.platforms = _top(platforms)
        one.bots = _top(_named(bots, bot_names, missing="(none)"))
        one.steps = _top(_named(steps, step_names))


def _named(counter: Counter, names: dict, *, missing: str = "") -> Counter:
    named = Counter()
    for key, n in counter.items():
        named[names.get(key, missing)] += n
    return named


def largest_incidents(*, limit: int | None = None) -> list[Incident]:
    """The open incidents, largest first (then the fastest growing, then the newest), with
    their title and counts only."""
    return _incidents()[:limit]


def open_incidents(*, limit: int | None = None, now: datetime | None = None) -> list[Incident]:
    """`largest_incidents` with what the incidents page shows of each: the 24-hour trend of
    failures, the last failure, and the platforms, bots and plan steps most affected."""
    return incident_page(limit=limit, now=now)[0]


def incident_page(
    *, offset: int = 0, limit: int | None = None, now: datetime | None = None
) -> tuple[list[Incident], int]:
    """One page of `open_incidents` (from the `offset`th largest), and how many are open."""
    now = now or timezone.now()
    everything = _incidents(spread=True, now=now)
    incidents = everything[offset : None if limit is None else offset + limit]
    _add_trends({one.signature: one for one in incidents}, now=now)
    return incidents, len(everything)


def incident(signature: str, *, now: datetime | None = None) -> Incident | None:
    """One incident as `open_incidents` shows it, open or not (None: no such signature)."""
    now = now or timezone.now()
    found = _incidents(signatures=[signature], spread=True, now=now)
    if found:
        one = found[0]
    else:
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
    _add_trends({signature: one}, now=now)
    return one


def _add_trends(by_key: dict[str, Incident], *, now: datetime) -> None:
    """Failures per hour over the last 24 (one grouped read of the attempts' signature index)
    and the latest failure of each signature (one probe of that index per signature)."""
    if not by_key:
        return
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=TREND_HOURS - 1)
    hourly = (
        PhaseAttempt.objects.filter(signature__in=list(by_key), finished_at__gte=start)
        .annotate(slot=HoursSince("finished_at", start))
        .values_list("signature", "slot")
        .annotate(n=Count("*"))  # not of a column: the signature index alone answers
        .order_by()
    )
    for incident in by_key.values():
        incident.trend = [0] * TREND_HOURS
    for key, slot, n in hourly:
        if 0 <= slot < TREND_HOURS:
            by_key[key].trend[int(slot)] += n
    latest = (
        PhaseAttempt.objects.filter(signature=OuterRef("pk"), finished_at__isnull=False)
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )
    last_failures = (
        FailureSignature.objects.filter(pk__in=list(by_key))
        .annotate(last=Subquery(latest))
        .values_list("pk", "last")
    )
    for key, last in last_failures:
        incident = by_key[key]
        incident.last_seen = max(filter(None, (incident.last_seen, last)), default=None)


def incident_count_rows(*, now: datetime | None = None):
    """(signature, items in review, of those the ones that came in the last hour, when the
    oldest of them came) of each open incident: one grouped read of the queue's signature
    index."""
    hour_ago = (now or timezone.now()) - timedelta(hours=1)
    return (
        _in_review()
        .values_list("review_signature")
        .annotate(
            n=Count("id"),
            new=Count("id", filter=Q(review_required_since__gte=hour_ago)),
            opened=Min("review_required_since"),
        )
        .order_by()
    )


def incident_counts() -> dict[str, tuple[int, int, datetime]]:
    """Of each open incident, by signature: its items in review, how many of them came in the
    last hour, and when the oldest came (the incident opened then: the incidents page's live
    counts, `/metrics`)."""
    return {key: (n, new, opened) for key, n, new, opened in incident_count_rows()}


def incident_totals() -> tuple[int, int]:
    """How many incidents are open, and how many items the largest holds (`/metrics`)."""
    sizes = [n for n, _, _ in incident_counts().values()]
    return len(sizes), max(sizes, default=0)


def _top(counter: Counter) -> list[tuple[str, int]]:
    return counter.most_common(TOP)
