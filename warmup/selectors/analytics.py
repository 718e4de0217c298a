"""Review analytics: queue depth, flow in and out of review, time in review, which resolutions
and automatic retries work and where escalations come from. The review API's stats, the review
dashboard and `manage.py review_report` read their numbers from here, so they always agree.

A resume or retry succeeded when the phase was later completed by a bot without returning to
review; it failed when the phase came back to review first; otherwise it is still pending.
Categories are the corrected ones (a recategorisation changes the phase's category, and the
resolution row records the category at resolution time).

An automatic retry worked when the phase of the retried failure was later completed by a bot
without entering review at or after that failure (see `retry_effectiveness`).

Windows: `since` is inclusive, `until` exclusive; either may be None (no bound). The queue and
the oldest items are always "now".
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate, TruncHour
from django.utils import timezone

from reviews.models import ReviewLog, ReviewLogCount, ReviewLogHour
from warmup.domain.choices import (
    AUTOMATED_RESOLUTIONS,
    ENTERS_REVIEW,
    RESOLUTION_ACTIONS,
    ReasonCode,
    ResolutionMethod,
    ReviewAction,
)
from warmup.domain.confidence import wilson_lower_bound
from warmup.models import (
    Bot,
    CompletionMethod,
    FailureDecision,
    FailureSignature,
    PhaseAttempt,
    PhaseStatus,
)
from warmup.selectors.queue import review_queue

# Entering review and the automated resolutions (resume, retry) are defined once, beside the
# log's actions (reviews.models): an undone bulk resolution counts as entering review, and the
# resolution it undid as one that did not work.
RESOLVES_REVIEW = tuple(RESOLUTION_ACTIONS.values())
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


def queue_depth_rows() -> QuerySet:
    """The review queue by failure category and escalation level: rows of
    `last_failure_category`, `escalation_level`, `n` (items) and `oldest` (the earliest review
    clock of the group). One query, read through the review queue's partial index. The one
    count of the queue: `queue_depth` (the API's stats, the dashboard, the report) and the
    /metrics gauges (config.monitoring) both read it."""
    return (
        review_queue(with_step=False)
        .order_by()
        .values("last_failure_category", "escalation_level")
        .annotate(n=Count("pk"), oldest=Min("review_required_since"))
    )


def queue_depth() -> dict:
    """Items in review now: in total, per failure category ("none" for a hold) and per
    escalation level."""
    rows = queue_depth_rows()
    by_category: dict[str, int] = defaultdict(int)
    by_level: dict[str, int] = defaultdict(int)
    total = 0
    for row in rows:
        by_category[row["last_failure_category"] or "none"] += row["n"]
        by_level[str(row["escalation_level"])] += row["n"]
        total += row["n"]
    return {"total": total, "by_category": dict(by_category), "by_escalation_level": dict(by_level)}


def oldest_in_review(*, limit: int = 10, now: datetime | None = None) -> list[dict]:
    """The `limit` items longest in review (oldest review clock first). The queue's index
    orders the items by review clock within each escalation level, so the oldest of each level
    are its first entries: one short read per level (and one for any level above the
    thresholds'), merged, instead of sorting every item in review."""
    now = now or timezone.now()
    top = len(settings.WARMUP_ESCALATION_THRESHOLDS)
    oldest_first = ("review_required_since", "id")
    reads = [review_queue().filter(escalation_level=level) for level in range(top + 1)]
    reads.append(review_queue().filter(escalation_level__gt=top))
    found = [item for read in reads for item in read.order_by(*oldest_first)[:limit]]
    items = sorted(found, key=lambda item: (item.review_required_since, item.pk))[:limit]
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


class Resolution(NamedTuple):
    """One resolution row as the analytics count it (a tuple: a window holds tens of
    thousands, and a frozen dataclass costs twice as much to make)."""

    method: str
    reason_code: str
    seconds_in_review: float | None
    outcome: str | None  # success | failed | pending for resume and retry; None otherwise


def _entered_review_after() -> Exists:
    """Whether the outer resolution row's phase entered review again after it (a row of its
    phase later in its chain). The bound on created_at lets PostgreSQL skip the months before
    the resolution (the log is partitioned by month)."""
    later = ReviewLog.objects.filter(
        phase_id=OuterRef("phase_id"),
        action__in=ENTERS_REVIEW,
        created_at__gte=OuterRef("created_at"),
    ).filter(Q(created_at__gt=OuterRef("created_at")) | Q(id__gt=OuterRef("id")))
    return Exists(later)


def resolution_outcome() -> Case:
    """A resolution row's outcome: for a resume or a retry, "failed" when its phase entered
    review again after it, "success" when a bot then completed the phase, "pending"
    otherwise; None for a completion or a skip (nothing to wait for).

    Read from the phase, not from the rest of its log: a phase leaves review only by a
    resolution, which stores its moment as the phase's `last_resolved_at`, and an undo gives
    back the moment before it. So the phase entered review again after this resolution when
    that moment is another one (a later resolution, or this one undone) or when it is this
    one and the phase is in review now. A phase with no moment kept (its only resolution
    undone) is asked of the log. One join to the phase per row instead of a search of the
    log's months per row. (The log tells apart two resolutions of one phase at the same
    moment, the phase does not; a failure and a second request come between them.)"""
    resolved_at = F("phase__last_resolved_at")
    return Case(
        When(~Q(resolution_method__in=AUTOMATED_RESOLUTIONS), then=Value(None)),
        When(phase__last_resolved_at__isnull=True, then=_outcome_from_the_log()),
        When(~Q(created_at=resolved_at), then=Value("failed")),
        When(phase__status=PhaseStatus.REVIEW_REQUIRED, then=Value("failed")),
        default=_completed_by_a_bot(),
        output_field=CharField(),
    )


def _completed_by_a_bot() -> Case:
    return Case(
        When(
            phase__completion_method=CompletionMethod.BOT,
            phase__completed_at__isnull=False,
            then=Value("success"),
        ),
        default=Value("pending"),
        output_field=CharField(),
    )


def _outcome_from_the_log() -> Case:
    return Case(
        When(_entered_review_after(), then=Value("failed")),
        default=_completed_by_a_bot(),
        output_field=CharField(),
    )


def _resolved(rows: QuerySet, key=None) -> list[tuple[Resolution, str | None]]:
    """Each resolution row of `rows` (oldest first) as a Resolution with its outcome, beside
    its value of `key` (an expression; None without one). One query, of a few columns."""
    values = (
        rows.annotate(
            outcome=resolution_outcome(), key=Value(None, CharField()) if key is None else key
        )
        .order_by("created_at", "id")
        .values_list("resolution_method", "reason_code", "time_in_review", "outcome", "key")
    )
    return [
        (Resolution(method, code, wait.total_seconds() if wait else None, outcome), group)
        for method, code, wait, outcome, group in values
    ]


def _resolution_rows(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    category: str | None = None,
    phase_type: str | None = None,
    signature: str | None = None,
) -> QuerySet:
    """The resolution rows in the window (of items that failed with `category`, of
    `phase_type`, with `signature`, when given)."""
    rows = _in_window(ReviewLog.objects.filter(action__in=RESOLVES_REVIEW), since, until)
    if category is not None:
        rows = rows.filter(failure_category=category)
    if phase_type is not None:
        rows = rows.filter(phase__phase_type=phase_type)
    if signature is not None:
        rows = rows.filter(signature_id=signature)
    return rows


def resolutions(
    *, since: datetime | None = None, until: datetime | None = None
) -> list[Resolution]:
    """The resolutions in the window, oldest first, each with its outcome (one query)."""
    return [row for row, _ in _resolved(_resolution_rows(since=since, until=until))]


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
    return _tally_of(len(rows), Counter(row.outcome for row in rows if row.outcome is not None))


def _tally_of(count: int, outcomes: Counter) -> dict:
    """`_tally` of `count` resolutions whose resumes and retries came out as `outcomes`."""
    entry = {
        "count": count,
        "success": None,
        "failed": None,
        "pending": None,
        "success_rate": None,
    }
    if outcomes.total():
        tally = {"success": 0, "failed": 0, "pending": 0}
        tally.update(outcomes)
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


# --- Suggestions: what worked before, ranked by how sure it is ------------------------------

SUGGESTION_DAYS = 90  # the resolutions a suggestion looks back on
# Below this many decided cases (worked or came back) a resolution's rate says too little: it
# is shown as "too few cases" and never suggested.
SUGGESTION_MIN_DECIDED = 5
# A suggestion is offered (its button open, its reason chosen) only when it worked at least
# this often: one that mostly comes back is listed, not recommended.
SUGGESTION_MIN_RATE = 0.5
DECIDED = ("success", "failed")  # the outcomes a rate counts; pending ones wait


@dataclass(frozen=True)
class FailureKind:
    """What suggestions are asked for: a failure's signature (None before signatures),
    category ("" for a hold) and plan step type (None: any)."""

    signature: str | None
    category: str
    phase_type: str | None = None


def suggestions_for(
    *,
    signature: str | None,
    category: str,
    phase_type: str | None = None,
    now: datetime | None = None,
) -> list[dict]:
    """What worked before for this kind of failure: `suggestions_for_many` of one."""
    return suggestions_for_many([FailureKind(signature, category, phase_type)], now=now)[0]


def suggestions_for_many(kinds: list[FailureKind], *, now: datetime | None = None) -> list[list]:
    """For each kind of failure, what worked before: the last 90 days' resolutions, by method
    and reason code, each with how often the phase then completed without coming back to
    review. Of the failures with its signature when any of those has an outcome yet;
    otherwise of those that failed with its category (and phase type, when that has any), as
    `scope` says ("signature" or "category").

    One dict per (method, reason_code): count, success, failed, pending, `decided` (success
    + failed), `rate` (success / decided), `lower_bound` (of its 95 % Wilson interval) and
    `enough` (at least SUGGESTION_MIN_DECIDED decided); rate and lower_bound are None for a
    completion or a skip (no outcome) and while nothing is decided. Best first: those with
    enough cases by lower bound, then those with too few, then those done by hand. At most
    two queries, however many kinds: one over the signatures, one over the categories that
    the signatures leave to them."""
    recent = _resolution_rows(since=(now or timezone.now()) - timedelta(days=SUGGESTION_DAYS))
    signatures = {kind.signature for kind in kinds if kind.signature}
    by_signature = _outcomes_by_resolution(
        recent.filter(signature_id__in=signatures), "signature_id"
    )
    undecided = [kind for kind in kinds if not _decided(by_signature.get((kind.signature,)))]
    categories = {kind.category for kind in undecided if kind.category}
    by_step = _outcomes_by_resolution(
        recent.filter(failure_category__in=categories), "failure_category", "phase__phase_type"
    )
    answers = []
    for kind in kinds:
        scope, groups = "signature", by_signature.get((kind.signature,), {})
        if not _decided(groups):
            scope, groups = "category", {}
            if kind.category:
                groups = _merged(by_step, kind.category, kind.phase_type)
                if not groups and kind.phase_type is not None:
                    groups = _merged(by_step, kind.category, None)
        entries = [
            _suggestion(method, code, outcomes, scope)
            for (method, code), outcomes in groups.items()
        ]
        entries.sort(key=_best_first)
        answers.append(entries)
    return answers


def _decided(groups: dict | None) -> bool:
    return any(outcomes[kind] for outcomes in (groups or {}).values() for kind in DECIDED)


def _merged(by_step: dict, category: str, phase_type: str | None) -> dict[tuple, Counter]:
    """The outcomes of `category`'s resolutions of `phase_type` (of any step for None)."""
    merged: dict[tuple, Counter] = defaultdict(Counter)
    for (row_category, row_type), groups in by_step.items():
        if row_category == category and phase_type in (None, row_type):
            for resolution, outcomes in groups.items():
                merged[resolution].update(outcomes)
    return merged


def _outcomes_by_resolution(rows: QuerySet, *by: str) -> dict[tuple, dict[tuple, Counter]]:
    """The outcomes of `rows`, counted in the database per value of the `by` columns and per
    (method, reason code) (the outcome None counts completions and skips). One query."""
    grouped = (
        rows.annotate(outcome=resolution_outcome())
        .order_by()
        .values_list(*by, "resolution_method", "reason_code", "outcome")
        .annotate(n=Count("*"))
    )
    counted: dict[tuple, dict[tuple, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for *key, method, code, outcome, n in grouped:
        counted[tuple(key)][(method, code)][outcome] += n
    return counted


def _suggestion(method: str, reason_code: str, outcomes: Counter, scope: str) -> dict:
    automated = Counter({kind: n for kind, n in outcomes.items() if kind is not None})
    tally = _tally_of(outcomes.total(), automated)
    decided = (tally["success"] or 0) + (tally["failed"] or 0)
    return {
        "method": method,
        "reason_code": reason_code,
        "scope": scope,
        "count": tally["count"],
        "success": tally["success"],
        "failed": tally["failed"],
        "pending": tally["pending"],
        "decided": decided,
        "rate": tally["success"] / decided if decided else None,
        "lower_bound": wilson_lower_bound(tally["success"], decided) if decided else None,
        "enough": decided >= SUGGESTION_MIN_DECIDED,
    }


def _best_first(entry: dict) -> tuple:
    if entry["enough"]:
        rank = 0
    elif entry["success"] is not None:
        rank = 1  # a resume or retry with too few cases
    else:
        rank = 2  # done by hand: no outcome to rank by
    return (
        rank,
        -(entry["lower_bound"] or 0),
        -entry["count"],
        entry["method"],
        entry["reason_code"],
    )


def best_suggestion(entries: list[dict], *, method: str | None = None) -> dict | None:
    """The suggestion to offer first (of `method`, when given): the best-ranked resume or
    retry with enough cases that worked at least SUGGESTION_MIN_RATE of the time. Never a
    completion or a skip (a bot's next try cannot prove them), and nothing when no resolution
    has the evidence."""
    for entry in entries:  # best first
        if method is not None and entry["method"] != method:
            continue
        if (
            entry["method"] in AUTOMATED_RESOLUTIONS
            and entry["enough"]
            and entry["rate"] >= SUGGESTION_MIN_RATE
        ):
            return entry
    return None


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


# What the log is counted by, per hour (`hourly_counts`): items that entered review (escalated,
# held or a resolution undone) and items resolved, by no key; escalations per plan step,
# platform and bot (its id; "" for none).
ENTERED, RESOLVED = "entered", "resolved"
ESCALATIONS_BY = ("phase_type", "platform", "bot")


def hourly_counts(*, since: datetime | None, until: datetime | None) -> Counter:
    """The review log's rows in the window counted per hour (UTC) and measure: a Counter of
    (hour, measure, key) -> rows. The one definition of the dashboard's flow and of where
    escalations come from: the scheduler keeps it per closed hour (ReviewLogCount,
    `warmup.services.review_hours`), and `daily_counts` reads those and counts the rest here.

    Escalations are counted from the log row's own columns where they tell (a failure's
    signature names its plan step; the reporting bot is the row's actor), so only the rows
    they leave out join another table: those written before signatures, and lease expiries
    (the system's rows, named by the bot of the last attempt). Six grouped queries, none per
    row."""
    rows = _in_window(ReviewLog.objects.order_by(), since, until)
    hour = TruncHour("created_at", tzinfo=UTC)
    counts: Counter = Counter()

    def add(measure: str, grouped, keyed=str) -> None:
        for at, key, n in grouped.annotate(n=Count("*")).values_list("at", "key", "n"):
            counts[(at, measure, "" if key is None else keyed(key))] += n

    flow = rows.filter(action__in=ENTERS_REVIEW + RESOLVES_REVIEW).values(at=hour)
    for at, entered, resolved in flow.annotate(
        entered=Count("id", filter=Q(action__in=ENTERS_REVIEW)),
        resolved=Count("id", filter=Q(action__in=RESOLVES_REVIEW)),
    ).values_list("at", "entered", "resolved"):
        counts[(at, ENTERED, "")] += entered
        counts[(at, RESOLVED, "")] += resolved

    escalated = rows.filter(action=ReviewAction.ESCALATED)
    signed = escalated.exclude(signature=None)
    step_of = dict(
        FailureSignature.objects.filter(
            pk__in=signed.values("signature_id").distinct()
        ).values_list("pk", "phase_type")
    )
    add("phase_type", signed.values(at=hour, key=F("signature_id")), keyed=step_of.__getitem__)
    add("phase_type", escalated.filter(signature=None).values(at=hour, key=F("phase__phase_type")))
    add("bot", escalated.exclude(actor_bot=None).values(at=hour, key=F("actor_bot_id")))
    add("bot", escalated.filter(actor_bot=None).values(at=hour, key=_last_attempts_bot("bot")))
    add("platform", escalated.values(at=hour, key=F("account__platform")))
    return +counts  # no zero entries: the same counts, kept or not


def hour_of(moment: datetime) -> datetime:
    """The start of the hour (UTC) `moment` is in: what `hourly_counts` counts by."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour_after(moment: datetime) -> datetime:
    """The first hour (UTC) starting at or after `moment`."""
    start = hour_of(moment)
    return start if start == moment else start + timedelta(hours=1)


def kept_hours() -> tuple[datetime, datetime] | None:
    """The run of hours whose counts are kept, as [first, end), or None (one query)."""
    run = ReviewLogHour.objects.aggregate(first=Min("hour"), last=Max("hour"))
    if run["first"] is None:
        return None
    return run["first"], run["last"] + timedelta(hours=1)


def daily_counts(*, since: datetime | None, until: datetime | None) -> Counter:
    """`hourly_counts` of the window summed per day (UTC): a Counter of (day, measure, key)
    -> rows. The whole hours inside the window whose counts are kept are read from
    ReviewLogCount (a few hundred rows a day, whatever the size of the log); the rest of the
    window (its ragged ends, hours not counted yet) from the log."""
    run = kept_hours()
    lo = hi = None
    if run is not None:
        lo = run[0] if since is None else max(run[0], _hour_after(since))
        hi = run[1] if until is None else min(run[1], hour_of(until))
    if run is None or lo >= hi:
        live = [(since, until)]
        kept = []
    else:
        live = [(since, lo), (hi, until)]
        kept = (
            ReviewLogCount.objects.filter(hour__gte=lo, hour__lt=hi)
            .values("measure", "key", day=TruncDate("hour", tzinfo=UTC))
            .annotate(total=Sum("n"))
            .values_list("day", "measure", "key", "total")
            .order_by()
        )
    days: Counter = Counter()
    for day, measure, key, n in kept:
        days[(day, measure, key)] += n
    for start, end in live:
        if start is not None and end is not None and start >= end:
            continue
        for (at, measure, key), n in hourly_counts(since=start, until=end).items():
            days[(at.astimezone(UTC).date(), measure, key)] += n
    return days


def daily_flow(
    *, since: datetime, until: datetime | None = None, counts: Counter | None = None
) -> list[dict]:
    """Per day (UTC, the project's time zone) from since's day to until's (or today): items
    that entered review (escalated or held) and items resolved. Days without events count
    0. `counts`: the window's `daily_counts`, when the caller has them already."""
    if counts is None:
        counts = daily_counts(since=since, until=until)
    end = until - timedelta(microseconds=1) if until else timezone.now()
    first, last = since.astimezone(UTC).date(), end.astimezone(UTC).date()
    days: list[date] = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [
        {
            "day": day,
            "entered": counts[(day, ENTERED, "")],
            "resolved": counts[(day, RESOLVED, "")],
        }
        for day in days
    ]


def _escalating_bot():
    """The bot whose failure sent the phase to review: the reporting bot, or for a lease that
    expired (a system event) the bot of the last attempt claimed before it."""
    return Coalesce("actor_bot__name", _last_attempts_bot("bot__name"))


def _last_attempts_bot(value: str) -> Subquery:
    """Of the bot of the last attempt claimed before the outer log row: `value` ("bot" for
    its id, "bot__name"). What names the bot of a lease that expired."""
    last_attempt = PhaseAttempt.objects.filter(
        phase_id=OuterRef("phase_id"), claimed_at__lte=OuterRef("created_at")
    ).order_by("-claimed_at", "-number")
    return Subquery(last_attempt.values(value)[:1])


def top_escalations(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 5,
    counts: Counter | None = None,
) -> dict[str, list[tuple[str, int]]]:
    """The phase types, platforms and bots whose failures were escalated to review most often
    in the window (holds by reviewers are not escalations): `limit` of each, most first.
    From `daily_counts` (`counts`, when the caller has them); the bots named in one small
    read."""
    if counts is None:
        counts = daily_counts(since=since, until=until)
    totals = {measure: Counter() for measure in ESCALATIONS_BY}
    for (_, measure, key), n in counts.items():
        if measure in totals:
            totals[measure][key] += n
    bot_ids = [int(key) for key in totals["bot"] if key]
    names = {
        str(pk): name for pk, name in Bot.objects.filter(pk__in=bot_ids).values_list("pk", "name")
    }
    bots = Counter()
    for key, n in totals["bot"].items():
        bots[names.get(key, NO_BOT)] += n
    totals["bot"] = bots
    return {
        name: sorted(((key or NO_BOT, n) for key, n in counter.items()), key=_most_first)[:limit]
        for name, counter in totals.items()
    }


def _most_first(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


# --- Everything the dashboard shows ----------------------------------------------------------


def review_dashboard(
    *, since: datetime, until: datetime | None = None, top: int = 5, oldest: int = 10
) -> dict:
    """The review dashboard's numbers for one window (a fixed number of queries)."""
    rows = resolutions(since=since, until=until)
    counts = daily_counts(since=since, until=until)
    return {
        "since": since,
        "until": until,
        "queue": queue_depth(),
        "daily": daily_flow(since=since, until=until, counts=counts),
        "time_in_review": time_in_review(rows),
        "resolutions": by_method(rows),
        "reason_codes": by_reason_code(rows),
        "top_escalations": top_escalations(since=since, until=until, limit=top, counts=counts),
        "oldest": oldest_in_review(limit=oldest),
    }


# --- Automatic retries: did retrying work? ---------------------------------------------------


def _retry_tally(outcomes: list[str]) -> dict:
    tally = {"count": len(outcomes), "success": 0, "failed": 0, "pending": 0}
    for outcome in outcomes:
        tally[outcome] += 1
    decided = tally["success"] + tally["failed"]
    tally["success_rate"] = round(tally["success"] / decided, 4) if decided else None
    return tally


def retry_effectiveness(*, since: datetime | None = None, until: datetime | None = None) -> dict:
    """How often an automatic retry worked, over the failures the retry policy retried in the
    window: the PhaseAttempt rows with decision `retry_scheduled` that finished in
    [since, until). Each such failure counts once (a phase retried twice before it completed
    counts twice) and is

    - success: its phase was later completed by a bot, and did not enter review (escalated or
      held) at or after the failure;
    - failed: its phase entered review at or after the failure, whatever happened next (a
      reviewer's resume that then worked is the reviewer's success, not the retry's);
    - pending: neither yet (waiting for its next attempt, or still being retried).

    `success_rate` is success / (success + failed), rounded to 4 places, None when nothing is
    decided yet: pending failures are left out, as for resolutions. Returns the overall counts
    (count, success, failed, pending, success_rate) and the same per failure category in
    `by_category` (only categories that were retried, most retried first). One query.
    """
    last_entry = ReviewLog.objects.filter(
        phase_id=OuterRef("phase_id"), action__in=ENTERS_REVIEW
    ).order_by("-created_at")
    attempts = PhaseAttempt.objects.filter(decision=FailureDecision.RETRY_SCHEDULED)
    if since is not None:
        attempts = attempts.filter(finished_at__gte=since)
    if until is not None:
        attempts = attempts.filter(finished_at__lt=until)
    attempts = attempts.order_by().values(
        "failure_category",
        "finished_at",
        "phase__completed_at",
        "phase__completion_method",
        entered_review_at=Subquery(last_entry.values("created_at")[:1]),
    )

    by_category: dict[str, list[str]] = defaultdict(list)
    for row in attempts:
        if row["entered_review_at"] is not None and row["entered_review_at"] >= row["finished_at"]:
            outcome = "failed"
        elif row["phase__completed_at"] and row["phase__completion_method"] == CompletionMethod.BOT:
            outcome = "success"
        else:
            outcome = "pending"
        by_category[row["failure_category"]].append(outcome)

    everything = [outcome for outcomes in by_category.values() for outcome in outcomes]
    ranked = sorted(by_category.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return {
        **_retry_tally(everything),
        "by_category": {category: _retry_tally(outcomes) for category, outcomes in ranked},
    }


# --- Breakdowns: entering review and resolutions per category, phase type, bot, ... -----------

# What a breakdown can be keyed by, and the ReviewLog expression giving the key. `category` is
# the failure category the row recorded (the corrected one on resolutions), `bot` the bot whose
# failure sent the phase to review (see `_escalating_bot`), `reason` the resolution's reason code
# (entering review has none).
GROUP_KEYS = ("category", "phase_type", "bot", "platform", "reason", "signature")
NO_CATEGORY = "none"


def _group_key(by: str):
    return {
        "category": F("failure_category"),
        "phase_type": F("phase__phase_type"),
        "bot": _escalating_bot(),
        "platform": F("account__platform"),
        "reason": F("reason_code"),
        "signature": F("signature_id"),  # rows written before signatures have none
    }[by]


def _key_or_default(by: str, key: str | None) -> str:
    if key:
        return key
    return NO_BOT if by == "bot" else NO_CATEGORY


def breakdown(by: str, *, since: datetime | None = None, until: datetime | None = None) -> list:
    """Items entering review and resolutions in the window, per `by` (one of GROUP_KEYS).

    One row per key: `entered` (escalated or held in the window; None when keyed by `reason`,
    as entering review has no reason code), `resolved`, `by_method` (resolutions per method),
    success / failed / pending / success_rate of its resumes and retries (as `by_method` counts
    them; None where it had none), and `median_seconds` in review of its resolutions. Rows with
    the most entries and resolutions first. The rows add up to `daily_flow`'s entered and
    resolved. Three queries.
    """
    if by not in GROUP_KEYS:
        raise ValueError(f"Unknown breakdown key {by!r}; choose one of {', '.join(GROUP_KEYS)}.")
    entered: dict[str, int] = defaultdict(int)
    if by != "reason":
        entries = _in_window(ReviewLog.objects.filter(action__in=ENTERS_REVIEW), since, until)
        for row in entries.order_by().values(key=_group_key(by)).annotate(n=Count("id")):
            entered[_key_or_default(by, row["key"])] += row["n"]

    resolved: dict[str, list[Resolution]] = defaultdict(list)
    for row, key in _resolved(_resolution_rows(since=since, until=until), _group_key(by)):
        resolved[_key_or_default(by, key)].append(row)

    result = []
    for key in set(entered) | set(resolved):
        group = resolved.get(key, [])
        tally = _tally(group)
        result.append(
            {
                "key": key,
                "entered": None if by == "reason" else entered.get(key, 0),
                "resolved": len(group),
                "by_method": {m: entry["count"] for m, entry in by_method(group).items()},
                **{k: tally[k] for k in ("success", "failed", "pending", "success_rate")},
                "median_seconds": time_in_review(group)["median_seconds"],
            }
        )
    result.sort(key=lambda row: (-((row["entered"] or 0) + row["resolved"]), row["key"]))
    if by == "signature":  # the key is a digest: say what it stands for
        titles = FailureSignature.objects.in_bulk([row["key"] for row in result])
        for row in result:
            known = titles.get(row["key"])
            row["title"] = known.title if known else "(before signatures)"
    return result


# --- Everything the review report command prints ---------------------------------------------


def review_report(
    *,
    since: datetime,
    until: datetime | None = None,
    group_by: str | None = None,
    top: int = 5,
    oldest: int = 10,
) -> dict:
    """The numbers of `manage.py review_report` and of the dashboard's CSV for one window: the
    queue now, entering and leaving review (per day and in total), time in review, resolutions
    by method and by reason code, automatic retries, the `top` phase types, platforms and bots
    escalated most, the `oldest` items waiting longest and, with `group_by`, the breakdown. The
    same functions as the dashboard and the stats API, so all three agree."""
    rows = resolutions(since=since, until=until)
    counts = daily_counts(since=since, until=until)
    daily = daily_flow(since=since, until=until, counts=counts)
    return {
        "since": since,
        "until": until,
        "queue": queue_depth(),
        "entered": sum(day["entered"] for day in daily),
        "resolved": sum(day["resolved"] for day in daily),
        "daily": daily,
        "time_in_review": time_in_review(rows),
        "resolutions": by_method(rows),
        "reason_codes": by_reason_code(rows),
        "retries": retry_effectiveness(since=since, until=until),
        "top_escalations": top_escalations(since=since, until=until, limit=top, counts=counts),
        "oldest": oldest_in_review(limit=oldest),
        "group_by": group_by,
        "breakdown": breakdown(group_by, since=since, until=until) if group_by else None,
    }


# --- The report as one document and as one flat table -----------------------------------------

# The header of the one CSV table of the review numbers: `review_report --format csv` and the
# dashboard's CSV download both write it (through config.text.write_csv).
CSV_HEADER = ("section", "key", "metric", "value")


def iso(moment: datetime | None, timespec: str = "auto") -> str | None:
    """A date-time in ISO 8601, in the current time zone (None stays None)."""
    return None if moment is None else timezone.localtime(moment).isoformat(timespec=timespec)


def _outcomes(entry: dict) -> dict:
    return {k: entry[k] for k in ("count", "success", "failed", "pending", "success_rate")}


def report_document(data: dict, *, now: datetime) -> dict:
    """`review_report`'s numbers as plain JSON values: numbers as numbers, durations in
    seconds, date-times and days in ISO 8601. The keys are always there; an empty value is
    null. `now` ends an open window and stamps the document."""
    breakdown = None
    if data["group_by"]:
        breakdown = {"by": data["group_by"], "rows": data["breakdown"]}
    queue, retries = data["queue"], data["retries"]
    return {
        "window": {
            "since": iso(data["since"]),
            "until": iso(data["until"] or now),
            "generated_at": iso(now),
        },
        "queue": {
            "total": queue["total"],
            "by_category": dict(sorted(queue["by_category"].items())),
            "by_escalation_level": dict(
                sorted(queue["by_escalation_level"].items(), key=lambda kv: int(kv[0]))
            ),
        },
        "flow": {
            "entered": data["entered"],
            "resolved": data["resolved"],
            "daily": [{**day, "day": day["day"].isoformat()} for day in data["daily"]],
        },
        "time_in_review": data["time_in_review"],
        "resolutions": data["resolutions"],
        "reason_codes": data["reason_codes"],
        "retry_effectiveness": {
            **_outcomes(retries),
            "by_category": {k: _outcomes(v) for k, v in retries["by_category"].items()},
        },
        "top_escalations": {
            group: [{"key": key, "escalations": n} for key, n in rows]
            for group, rows in data["top_escalations"].items()
        },
        "oldest": [
            {**item, "review_required_since": iso(item["review_required_since"])}
            for item in data["oldest"]
        ],
        "breakdown": breakdown,
    }


def report_rows(document: dict):
    """The report document as one flat table under CSV_HEADER: a section, the key within it
    ('' for the section's own numbers), the metric and its value (None for none)."""
    yield CSV_HEADER
    for metric, value in document["window"].items():
        yield ("window", "", metric, value)
    queue = document["queue"]
    yield ("queue", "", "total", queue["total"])
    for key, n in queue["by_category"].items():
        yield ("queue.by_category", key, "items", n)
    for key, n in queue["by_escalation_level"].items():
        yield ("queue.by_escalation_level", key, "items", n)
    flow = document["flow"]
    yield ("flow", "", "entered", flow["entered"])
    yield ("flow", "", "resolved", flow["resolved"])
    for day in flow["daily"]:
        yield ("flow.daily", day["day"], "entered", day["entered"])
        yield ("flow.daily", day["day"], "resolved", day["resolved"])
    for metric, value in document["time_in_review"].items():
        yield ("time_in_review", "", metric, value)
    for section in ("resolutions", "reason_codes"):
        for key, entry in document[section].items():
            for metric, value in entry.items():
                yield (section, key, metric, value)
    retries = document["retry_effectiveness"]
    for metric, value in retries.items():
        if metric != "by_category":
            yield ("retry_effectiveness", "", metric, value)
    for key, entry in retries["by_category"].items():
        for metric, value in entry.items():
            yield ("retry_effectiveness.by_category", key, metric, value)
    for group, rows in document["top_escalations"].items():
        for row in rows:
            yield (f"top_escalations.{group}", row["key"], "escalations", row["escalations"])
    for item in document["oldest"]:
        for metric, value in item.items():
            if metric != "phase_id":
                yield ("oldest", item["phase_id"], metric, value)
    if document["breakdown"]:
        section = f"breakdown.{document['breakdown']['by']}"
        for row in document["breakdown"]["rows"]:
            for metric, value in row.items():
                if metric == "by_method":
                    for method, n in value.items():
                        yield (section, row["key"], f"resolved.{method}", n)
                elif metric != "key":
                    yield (section, row["key"], metric, value)
