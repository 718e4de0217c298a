"""The counters and histograms the code increments, for the Prometheus scrape at /metrics.

Only prometheus objects (plumbing: no domain imports). The services count after commit
(`transaction.on_commit(metrics.PHASE_CLAIMS.labels(...).inc)`), so a rolled-back move is never
counted; the gauges are read from the database on scrape (config.monitoring).

Several processes (gunicorn workers, the scheduler loop): with `PROMETHEUS_MULTIPROC_DIR` set
in their environment, prometheus_client's multiprocess mode writes each process's values to
files in that directory and the scrape sums them, so every worker answers with the same totals.
Without it the values live in the process that counted them: right for one process only.
"""

import os
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROCESS_DIR:
    # prometheus_client opens its files there as each metric is made.
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)

# This process's metrics; the scrape view reads them here (one process) or from the files.
REGISTRY = CollectorRegistry(auto_describe=True)

PHASE_CLAIMS = Counter(
    "warmup_phase_claims",
    "Phases claimed by bots.",
    ["phase_type"],
    registry=REGISTRY,
)
PHASE_COMPLETIONS = Counter(
    "warmup_phase_completions",
    "Phases completed by bots.",
    ["phase_type"],
    registry=REGISTRY,
)
PHASE_FAILURES = Counter(
    "warmup_phase_failures",
    "Failures (bot reports and expired leases) by category and what the retry policy decided.",
    ["category", "decision"],
    registry=REGISTRY,
)
TIME_IN_REVIEW = Histogram(
    "warmup_review_time_in_review_seconds",
    "Time an item spent in review, observed when a reviewer resolves it, by resolution method.",
    ["method"],
    buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400),
    registry=REGISTRY,
)
TICK_DURATION = Histogram(
    "warmup_scheduler_tick_duration_seconds",
    "Wall time of one scheduler tick.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)


def observe_resolution(method: str, time_in_review: timedelta) -> None:
    """Record one resolution's time in review (a callback for `transaction.on_commit`)."""
    TIME_IN_REVIEW.labels(method=method).observe(time_in_review.total_seconds())
