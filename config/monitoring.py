"""The Prometheus scrape at /metrics: the counters of config.metrics and gauges read from the
database on each scrape.

The gauges are computed per scrape by a custom collector, not set by the code, so every server
process answers the same and no gauge outlives a restart. Four queries, each served by the
partial indexes of `WarmupPhase` (warmup/models.py): their cost follows the live phases, not the
size of the phases table; with REVIEW_LOG_CHECKPOINT_KEY set, a fifth reads the latest review
log checkpoint through its unique number (`checkpoint_gauges`). The review queue's depth is
`warmup.selectors.analytics.queue_depth_rows`, the same count the review API's stats, the dashboard
and the report show.
"""

from __future__ import annotations

import hmac
import json
import math

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from config import metrics
from config.api.throttling import FailedAuthenticationThrottle
from config.replica import read_heavy
from warmup.models import PhaseStatus, WarmupPhase
from warmup.selectors.analytics import queue_depth_rows
from warmup.selectors.checkpoints import latest_checkpoint, statement_of
from warmup.selectors.incidents import incident_totals
from warmup.services.breaker import open_breakers

S = PhaseStatus

# The statuses counted by `warmup_phases`: each has a partial index (claim, lease expiry,
# unlocking, content assignment, review queue), so each count reads only that status's rows.
# `completed` is left out on purpose: it is where every phase ends, grows without bound and
# has no index of its own, so counting it would read the whole table on every scrape. Its
# rate is `warmup_phase_completions_total` (bots) and the resolutions of the review histogram.
COUNTED_STATUSES = (
    S.PENDING,
    S.AVAILABLE,
    S.CONTENT_ASSIGNED,
    S.IN_PROGRESS,
    S.REVIEW_REQUIRED,
)

NOT_AUTHENTICATED = "Metrics need 'Authorization: Bearer <METRICS_TOKEN>'.\n"
WRONG_TOKEN = "Wrong metrics token.\n"
TOO_MANY_FAILURES = "Too many requests without the metrics token from this address: wait.\n"


def phase_counts():
    """Phases per counted status, as (status, count) rows: one UNION ALL of one filtered
    count per status, so each branch can use that status's partial index."""
    branches = [
        WarmupPhase.objects.filter(status=status)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
        for status in COUNTED_STATUSES
    ]
    return branches[0].union(*branches[1:], all=True)


class DatabaseCollector(Collector):
    """Gauges read on scrape: the review queue, its oldest item, phases by live status."""

    def collect(self):
        # On the read replica when there is one (config.replica).
        yield from read_heavy(lambda: list(self._gauges()))[0]

    def _gauges(self):
        now = timezone.now()
        depth = GaugeMetricFamily(
            "warmup_review_queue_depth",
            "Items in review, by failure category and escalation level.",
            labels=["category", "escalation_level"],
        )
        oldest = None
        for row in queue_depth_rows():
            depth.add_metric(
                [row["last_failure_category"] or "none", str(row["escalation_level"])], row["n"]
            )
            if oldest is None or row["oldest"] < oldest:
                oldest = row["oldest"]
        yield depth
        yield GaugeMetricFamily(
            "warmup_review_oldest_age_seconds",
            "How long the item waiting longest in review has waited (0 when the queue is empty).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
        counts = dict.fromkeys(COUNTED_STATUSES, 0)
        counts.update(dict(phase_counts()))
        phases = GaugeMetricFamily(
            "warmup_phases",
            "Phases by status, for the statuses that are not final (completed is not counted).",
            labels=["status"],
        )
        for status, n in counts.items():
            phases.add_metric([str(status)], n)
        yield phases
        # Incidents without a label per signature (signatures are unbounded): how many, and
        # the largest one's size.
        open_incidents, largest = incident_totals()
        yield GaugeMetricFamily(
            "warmup_open_incidents",
            "Failure signatures with items in review (incidents).",
            value=open_incidents,
        )
        yield GaugeMetricFamily(
            "warmup_largest_incident_items",
            "Items in review of the largest incident (0 when none is open).",
            value=largest,
        )
        yield GaugeMetricFamily(
            "warmup_open_breakers",
            "Breakers open or half open: scopes whose claims hand out nothing (or only trials).",
            value=open_breakers().count(),
        )
        if settings.REVIEW_LOG_CHECKPOINT_KEY:
            # One more query (the checkpoints' unique number index, read backwards) when
            # checkpoints are written at all.
            yield from checkpoint_gauges(latest_checkpoint())


CHECKPOINT_LABELS = ["number", "created_at", "last_row", "rows", "chains", "root", "mac"]


def checkpoint_gauges(checkpoint) -> list[GaugeMetricFamily]:
    """The latest review log checkpoint (warmup.services.checkpoints), so a copy of it lives in
    the scraper's storage, outside the database: its rows, its time and, as labels of an info
    gauge, everything `check_warmup_integrity --checkpoint` needs to rebuild its JSON line.
    One new series per checkpoint (every REVIEW_LOG_CHECKPOINT_SECONDS); none before the first."""
    if checkpoint is None:
        return []
    rows = GaugeMetricFamily(
        "warmup_review_log_checkpoint_rows",
        "Log rows the latest review log checkpoint counted (up to its last row).",
        value=checkpoint.rows,
    )
    when = GaugeMetricFamily(
        "warmup_review_log_checkpoint_timestamp_seconds",
        "When the latest review log checkpoint was signed (Unix time).",
        value=checkpoint.created_at.timestamp(),
    )
    info = GaugeMetricFamily(
        "warmup_review_log_checkpoint_info",
        "The latest review log checkpoint's signed statement, as labels (value 1).",
        labels=CHECKPOINT_LABELS,
    )
    line = json.loads(statement_of(checkpoint).line())
    info.add_metric([str(line[name]) for name in CHECKPOINT_LABELS], 1)
    return [rows, when, info]


def scrape_registry() -> CollectorRegistry:
    """What one scrape reports: the database gauges and the counters of every process (the
    files of PROMETHEUS_MULTIPROC_DIR) or of this one."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    if metrics.MULTIPROCESS_DIR:
        multiprocess.MultiProcessCollector(registry, path=metrics.MULTIPROCESS_DIR)
    else:
        registry.register(metrics.REGISTRY)
    return registry


def _refusal(request) -> HttpResponse | None:
    """401 without a bearer token, 403 with a wrong one, None when METRICS_TOKEN is unset
    (open: restrict /metrics elsewhere) or the token matches. Each 401 and 403 counts against
    the address's AUTH_FAILURE_RATE, as on the APIs: past it, 429 before the token is read."""
    expected = settings.METRICS_TOKEN
    if not expected:
        return None
    failures = FailedAuthenticationThrottle()
    if failures.refused(request)[0]:
        response = HttpResponse(TOO_MANY_FAILURES, status=429, content_type="text/plain")
        response["Retry-After"] = str(math.ceil(failures.wait()))
        return response
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = HttpResponse(NOT_AUTHENTICATED, status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    elif not hmac.compare_digest(given.strip().encode(), expected.encode()):
        response = HttpResponse(WRONG_TOKEN, status=403, content_type="text/plain")
    else:
        return None
    failures.failed(request)
    return response


@require_safe
def metrics_view(request):
    """GET /metrics: the Prometheus text format (or OpenMetrics, if the scraper asks for it)."""
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(scrape_registry()), content_type=content_type)
