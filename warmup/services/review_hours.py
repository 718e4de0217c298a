"""The review log counted per hour, kept for the dashboard: the scheduler counts each hour once
its rows are all written (`warmup.selectors.analytics.hourly_counts`, the one definition) and
stores the counts, so a dashboard window reads a few hundred rows a day instead of every row
of the log in it.

The kept hours are one unbroken run. Each tick extends it forward to the last hour that ended
WRITES_SETTLE ago, and back, a day at a time, until it reaches KEPT_FOR ago; hours older
than that are dropped. The review log is append-only and every row is written with the moment
of its transaction, so an hour's counts never change once its writers have finished: a row
is written within seconds of its moment (the servers' statement timeout is 30 s).

Side effects: ReviewLogHour and ReviewLogCount rows, in one transaction per run of hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from reviews.models import ReviewLogCount, ReviewLogHour
from warmup.selectors.analytics import hour_of, hourly_counts, kept_hours

HOUR = timedelta(hours=1)
WRITES_SETTLE = timedelta(minutes=10)  # after an hour ends, its rows are all written
KEPT_FOR = timedelta(days=92)  # the dashboard's longest window (90 days) and its ragged ends
STEP = timedelta(days=1)  # hours counted at most per run (a few grouped queries over them)


def review_hours_count_due(*, now: datetime) -> int:
    """Count the hours due and keep their counts; the scheduler calls this on every tick.
    The hours older than KEPT_FOR are dropped first. Forward: the hours after the kept run
    that ended WRITES_SETTLE before `now`, at most a day of them. Back: the day before the
    run, while it starts after KEPT_FOR ago. Returns how many hours were counted (one query when
    none are due)."""
    closed = hour_of(now - WRITES_SETTLE)  # every hour before this one has settled
    oldest = hour_of(now - KEPT_FOR)
    run = kept_hours()
    first, last = (run[0], run[1] - HOUR) if run else (None, None)
    if first is not None and first < oldest:  # the hours no window reaches any more
        ReviewLogHour.objects.filter(hour__lt=oldest).delete()
        first, last = (oldest, last) if last >= oldest else (None, None)
    if first is None:  # nothing kept: start with the day up to the last settled hour
        return _count(max(closed - STEP, oldest), closed, now=now)
    counted = 0
    if last + HOUR < closed:
        counted += _count(last + HOUR, min(last + HOUR + STEP, closed), now=now)
    if first > oldest:
        counted += _count(max(first - STEP, oldest), first, now=now)
    return counted


@transaction.atomic
def _count(start: datetime, end: datetime, *, now: datetime) -> int:
    """Count the hours [start, end) and keep them (again counted by another scheduler at the
    same time, the same counts: the second is ignored). Returns how many hours."""
    if start >= end:
        return 0
    hours = []
    at = start
    while at < end:
        hours.append(ReviewLogHour(hour=at, counted_at=now))
        at += HOUR
    ReviewLogHour.objects.bulk_create(hours, ignore_conflicts=True)
    ReviewLogCount.objects.bulk_create(
        [
            ReviewLogCount(hour_id=hour, measure=measure, key=key, n=n)
            for (hour, measure, key), n in hourly_counts(since=start, until=end).items()
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return len(hours)


def review_hours_forget() -> None:
    """Forget every kept hour, for a writer of history in the past (the demo's stories, told
    on a clock of their own, write into hours a tick of theirs has counted): the scheduler
    counts them again."""
    ReviewLogHour.objects.all().delete()
