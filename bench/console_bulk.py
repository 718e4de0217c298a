"""The console's bulk resume on the fleet: a reviewer confirms "Resume automation" for 2,000
items of the admin's review queue (fewer on a smoke fleet), beside `manage.py resolve_reviews
--action resume` on the same items in the same run.

The console side is one request through Django's test client, logged in as a reviewer: the POST
of the confirmation page (`select_across=1` over the queue filtered to those items by
`?id__in=`, `confirm=yes`, a reason code and a note), the whole of it: middleware, session,
permissions, the admin's list and selection, `reviews_resolve_in_batches` (500 per transaction
under one batch id) and the summary message. The reference is the command over the same ids
(`--ids`), as `bench.bulk_resolution` runs it. Each side runs in a transaction that is rolled back
(the fleet is shared), so both see the same items in review; which goes first alternates between
runs.

The run checks what the console wrote, outside the timing, and fails if it is wrong: one batch
id on every one of the items' resolution rows, the one the summary names, and `resolve_reviews
--undo <batch>` puts every item back in review.

The target (an architecture issue): under 2 s for 2,000 items; item by item it was 19.1 s for
1,964. `python -m bench.console_bulk --profile` profiles one console request.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import pstats
import re

from bench.bulk_resolution import _resolve, _selected
from bench.review_queue import ADMIN, REVIEWER, _as_reviewer
from bench.runner import Context, Pair, benchmark, timed

ITEMS = 2_000
SMOKE_ITEMS = 50
TARGET_MS = 2_000
REASON = "replaced_proxy"
BATCH_SAID = re.compile(r"Batch ([0-9a-f-]{36}); to undo it: manage\.py resolve_reviews --undo \1")

_runs = itertools.count()


def _items(ctx: Context) -> list[int]:
    ids = _selected(SMOKE_ITEMS if ctx.smoke else ITEMS)
    if not ids or (not ctx.smoke and len(ids) < ITEMS):
        raise RuntimeError(
            f"the fleet has {len(ids)} items in review that may be resumed, {ITEMS} are needed: "
            "build one of at least 20,000 accounts"
        )
    return ids


def _one_incident(ids: list[int]) -> str:
    """Make `ids` the items of a new failure signature; its key."""
    import secrets

    from django.utils import timezone

    from warmup.models import FailureSignature, WarmupPhase

    key = secrets.token_hex(8)
    FailureSignature.objects.create(
        key=key, title="bench: console bulk", category="proxy_error", phase_type="profile_bio",
        first_seen_at=timezone.now(),
    )  # fmt: skip
    WarmupPhase.objects.filter(pk__in=ids).update(review_signature_id=key)
    return key


def _post(client, ids: list[int], profile: cProfile.Profile | None = None):
    """Milliseconds, queries and the response of the confirmation page's POST over `ids`."""
    from django.db import connection

    # The items made one incident (in the caller's rolled-back transaction), and the queue
    # filtered to it: what a reviewer selects "all N" of before a bulk action.
    url = f"{ADMIN}?signature={_one_incident(ids)}"
    form = {
        "_selected_action": str(ids[0]),  # as the confirmation page posts "select all"
        "select_across": "1",
        "action": "resume",
        "confirm": "yes",
        "reason_code": REASON,
        "note": "bench: console bulk resume",
    }
    queries = []
    with connection.execute_wrapper(lambda execute, *args: queries.append(1) or execute(*args)):
        if profile:
            profile.enable()
        elapsed, response = timed(lambda: client.post(url, form))
        if profile:
            profile.disable()
    if response.status_code != 302:
        raise RuntimeError(f"the console's bulk resume answered {response.status_code}")
    return elapsed, len(queries), response


def _check(response, ids: list[int], before: int) -> float:
    """What the console wrote: one batch for every item's resolution row, named in the summary,
    and `resolve_reviews --undo` of it puts every item back in review. Milliseconds of the undo."""
    from django.contrib.messages import get_messages
    from django.core.management import call_command

    from reviews.models import ReviewItem, ReviewLog
    from warmup.domain.choices import ReviewAction
    from warmup.models import PhaseStatus

    said = " ".join(str(message) for message in get_messages(response.wsgi_request))
    found = BATCH_SAID.search(said)
    if found is None or f"Resumed {len(ids)} items" not in said:
        raise RuntimeError(f"the console's summary did not resume every item:\n{said}")
    batch = found.group(1)
    rows = list(
        ReviewLog.objects.filter(pk__gt=before, action=ReviewAction.RESUMED).values_list(
            "phase_id", "batch"
        )
    )
    batches = {str(b) for _, b in rows}
    if sorted(pk for pk, _ in rows) != sorted(ids) or batches != {batch}:
        raise RuntimeError(
            f"the console wrote {len(rows)} resolution rows for {len(ids)} items under "
            f"batches {sorted(batches)}; the summary names {batch}"
        )
    out = io.StringIO()
    args = ["resolve_reviews", "--undo", batch, "--user", REVIEWER, "--note", "bench: undo"]
    undo_ms, _ = timed(lambda: call_command(*args, stdout=out, stderr=io.StringIO()))
    back = ReviewItem.objects.filter(pk__in=ids, status=PhaseStatus.REVIEW_REQUIRED).count()
    if back != len(ids):
        raise RuntimeError(f"the undo put {back} of {len(ids)} items back:\n{out.getvalue()}")
    return undo_ms


def _console(ids: list[int]) -> tuple[float, int, float]:
    """Milliseconds and queries of the console's bulk resume over `ids` (checked), and of its
    undo; all of it rolled back."""
    from django.db.models import Max

    from reviews.models import ReviewLog

    with _as_reviewer() as client:
        before = ReviewLog.objects.aggregate(last=Max("pk"))["last"] or 0
        elapsed, queries, response = _post(client, ids)
        undo_ms = _check(response, ids, before)
    return elapsed, queries, undo_ms


@benchmark("console_bulk", what="console bulk resume of 2,000 items (limit: resolve_reviews)")
def console_bulk(ctx: Context) -> Pair:
    ids = _items(ctx)
    if next(_runs) % 2:
        command_ms = _resolve(ids)
        console_ms, queries, undo_ms = _console(ids)
    else:
        console_ms, queries, undo_ms = _console(ids)
        command_ms = _resolve(ids)
    return Pair(
        project=console_ms,
        limit=command_ms,
        extra={
            "items": len(ids),
            "queries": queries,
            "undo_ms": round(undo_ms),
            "under_2s": int(console_ms < TARGET_MS),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="cProfile of one console bulk resume")
    parser.add_argument("--profile", action="store_true", required=True)
    parser.add_argument("--items", type=int, default=ITEMS)
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args()
    import django

    django.setup()
    first, *ids = _selected(args.items + 1)
    profile = cProfile.Profile()
    with _as_reviewer() as client:
        _post(client, [first])  # warm: the first POST of a process pays for imports
        elapsed, queries, _ = _post(client, ids, profile)
    print(f"{len(ids)} items in {elapsed:.0f} ms, {queries} queries")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.lines)


if __name__ == "__main__":
    main()
