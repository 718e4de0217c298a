"""Incidents on the fleet: the incidents page, the queue filtered to the largest incident, and
the resolution of a whole incident of 2,000 items from its confirmation page.

The pages are rendered as a reviewer through Django's test client (the whole stack), inside a
transaction rolled back after; their limit is their own SQL through psycopg (the grouped count
of the items in review by signature; the queue's first page and count for one signature). The
group resolution posts the incident's confirmation page over 2,000 resumable items made one
incident for the run (their signature set in the same rolled-back transaction); its limit is
`resolve_reviews` over the same items, the set-based path the command takes.
"""

from __future__ import annotations

from bench.bulk_resolution import _resolve, _selected
from bench.review_queue import PAGE_SQL, _as_reviewer, _render
from bench.runner import Context, Pair, benchmark, timed

INCIDENTS = "/admin/reviews/incident/"
QUEUE = "/admin/reviews/reviewitem/"
ITEMS = 2_000
SMOKE_ITEMS = 50
TARGET_MS = 5_000  # the end-to-end bound for 2,000 items in the browser

INCIDENTS_SQL = """
SELECT review_signature_id, count(*), max(review_required_since)
FROM warmup_warmupphase
WHERE status = 'review_required' AND review_signature_id IS NOT NULL
GROUP BY review_signature_id ORDER BY 2 DESC, 3 DESC LIMIT 100
"""
SIGNATURE_PAGE_SQL = PAGE_SQL.replace(
    "WHERE p.status = 'review_required'",
    "WHERE p.status = 'review_required' AND p.review_signature_id = %(signature)s",
)
SIGNATURE_COUNT_SQL = """
SELECT count(*) FROM warmup_warmupphase
WHERE status = 'review_required' AND review_signature_id = %(signature)s
"""


def _largest() -> str:
    from warmup.selectors.incidents import largest_incidents

    found = largest_incidents(limit=1)
    if not found:
        raise RuntimeError("the fleet has no incident: build it again with this version")
    return found[0].signature


def _sql_ms(ctx: Context, *statements: tuple[str, dict]) -> float:
    with ctx.raw() as conn:
        for sql, params in statements:  # warm
            conn.execute(sql, params).fetchall()

        def run():
            for sql, params in statements:
                conn.execute(sql, params).fetchall()

        return timed(run)[0]


@benchmark("incidents_page", what="admin incidents page, full render (suggestions included)")
def incidents_page(ctx: Context) -> Pair:
    with _as_reviewer() as client:
        client.get(INCIDENTS)  # warm: the first render of a process compiles its template
        elapsed, queries = _render(client, INCIDENTS)
    return Pair(
        project=elapsed, limit=_sql_ms(ctx, (INCIDENTS_SQL, {})), extra={"queries": queries}
    )


@benchmark("queue_signature", what="admin review queue filtered to the largest incident")
def queue_signature(ctx: Context) -> Pair:
    signature = _largest()
    with _as_reviewer() as client:
        elapsed, queries = _render(client, f"{QUEUE}?signature={signature}")
    params = {"signature": signature}
    limit = _sql_ms(ctx, (SIGNATURE_PAGE_SQL, params), (SIGNATURE_COUNT_SQL, params))
    return Pair(project=elapsed, limit=limit, extra={"queries": queries})


def _post_incident(ids: list[int]) -> tuple[float, int]:
    """Milliseconds of the incident confirmation's POST over `ids` made one incident, checked
    and rolled back; and how many it resolved."""
    from django.db.models import Max

    from reviews.models import ReviewLog
    from warmup.domain.choices import ReviewAction
    from warmup.models import WarmupPhase

    with _as_reviewer() as client:
        signature = _largest()
        WarmupPhase.objects.filter(pk__in=ids).update(review_signature_id=signature)
        before = ReviewLog.objects.aggregate(last=Max("pk"))["last"] or 0
        url = f"{INCIDENTS}{signature}/resolve/?ids={','.join(map(str, ids))}"
        form = {"method": "resume", "reason_code": "replaced_proxy", "note": "bench: incident"}
        elapsed, response = timed(lambda: client.post(url, form))
        if response.status_code != 302 or "/batch/" not in response["Location"]:
            raise RuntimeError(f"the incident's resolution answered {response.status_code}")
        done = ReviewLog.objects.filter(pk__gt=before, action=ReviewAction.RESUMED).count()
        page = client.get(response["Location"])  # the batch page the browser lands on
        if page.status_code != 200 or done != len(ids):
            raise RuntimeError(f"the incident's batch resumed {done} of {len(ids)} items")
    return elapsed, done


@benchmark("incident_resolve", what="one incident of 2,000 items resumed (limit: resolve_reviews)")
def incident_resolve(ctx: Context) -> Pair:
    ids = _selected(SMOKE_ITEMS if ctx.smoke else ITEMS)
    if not ctx.smoke and len(ids) < ITEMS:
        raise RuntimeError(f"the fleet has {len(ids)} resumable items in review, {ITEMS} needed")
    elapsed, done = _post_incident(ids)
    return Pair(
        project=elapsed,
        limit=_resolve(ids),
        extra={"items": done, "under_5s": int(elapsed < TARGET_MS)},
    )
