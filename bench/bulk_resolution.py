"""Bulk resolution on the fleet: `manage.py resolve_reviews` resuming N items in review (10,000;
fewer on a smoke fleet), beside the set-based limit in the same run: one UPDATE of the same
phases and one INSERT of their log rows in plain SQL through psycopg (no hash chain).

Both run in a transaction that is rolled back (the fleet is shared), so both see the same items.
Note that the rollback also drops what the command does after each batch commits (a log line
per status change), so the figure is the command's database and Python work only.

Profile it: `python -m bench.bulk_resolution --profile` (cProfile of one run, top lines).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats

from bench.runner import Context, Pair, benchmark, timed

ITEMS = 10_000
SMOKE_ITEMS = 20

# The limit: the same move and log rows as a resume, set-based (as the system: the fleet has
# no users, and a row's width is the same).
LIMIT_SQL = """
WITH moved AS (
    UPDATE warmup_warmupphase p
    SET status = 'available', review_required_since = NULL, escalation_level = 0,
        review_assignee_id = NULL, retry_count = 0, content_id = NULL,
        next_attempt_at = NULL, available_at = now(), updated_at = now()
    FROM warmup_warmupphase old
    WHERE p.id = old.id AND p.id = ANY(%(ids)s) AND p.status = 'review_required'
    RETURNING p.id, p.account_id, old.last_failure_category, old.retry_count,
              old.escalation_level, old.review_required_since, old.content_id
)
INSERT INTO reviews_reviewlog (action, actor_type, from_status, to_status,
    failure_category, retry_count, escalation_level, resolution_method, reason_code, note,
    time_in_review, data, created_at, account_id, phase_id, batch, previous_hash, hash)
SELECT 'resumed', 'system', 'review_required', 'available', last_failure_category,
    retry_count, escalation_level, 'resume', 'replaced_proxy', 'bench', now() -
    review_required_since, jsonb_build_object('content', content_id), now(), account_id, id,
    gen_random_uuid(), '', ''
FROM moved
"""


def _selected(count: int) -> list[int]:
    """The first `count` items of the queue whose accounts may be resumed."""
    from warmup.selectors.queue import review_queue

    queue = review_queue().filter(account__status="active")
    return list(queue.values_list("pk", flat=True)[:count])


def _resolve(ids: list[int], profile: cProfile.Profile | None = None) -> float:
    """Milliseconds of `resolve_reviews --action resume` over `ids` by a new reviewer, all of
    it rolled back."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    from reviews.permissions import reviewers_group

    out = io.StringIO()
    with transaction.atomic():
        user = get_user_model().objects.create_user("bench-resolver", is_staff=True)
        user.groups.add(reviewers_group())
        args = ["resolve_reviews", "--user", user.username, "--ids", ",".join(map(str, ids))]
        args += ["--action", "resume", "--reason", "replaced_proxy", "--note", "bench"]
        if profile:
            profile.enable()
        elapsed, _ = timed(lambda: call_command(*args, stdout=out, stderr=io.StringIO()))
        if profile:
            profile.disable()
        transaction.set_rollback(True)
    if f"{len(ids)} item" not in out.getvalue().split("Done:")[-1]:
        raise RuntimeError(f"resolve_reviews did not change every item:\n{out.getvalue()}")
    return elapsed


def _limit(ctx: Context, ids: list[int]) -> float:
    with ctx.raw() as conn, conn.transaction(force_rollback=True):
        elapsed, cursor = timed(lambda: conn.execute(LIMIT_SQL, {"ids": ids}))
    if cursor.rowcount != len(ids):
        raise RuntimeError(f"the limit moved {cursor.rowcount} of {len(ids)} items")
    return elapsed


@benchmark("bulk_resolution", what="resolve_reviews: resume 10,000 items in review", unit="/s")
def bulk_resolution(ctx: Context) -> Pair:
    ids = _selected(SMOKE_ITEMS if ctx.smoke else ITEMS)
    limit_ms = _limit(ctx, ids)
    project_ms = _resolve(ids)
    return Pair(
        project=len(ids) / project_ms * 1000,
        limit=len(ids) / limit_ms * 1000,
        extra={"items": len(ids)},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="cProfile of one bulk resolution run")
    parser.add_argument("--profile", action="store_true", required=True)
    parser.add_argument("--items", type=int, default=ITEMS)
    args = parser.parse_args()
    import django

    django.setup()
    profile = cProfile.Profile()
    ids = _selected(args.items)
    elapsed = _resolve(ids, profile)
    print(f"{len(ids)} items in {elapsed:.0f} ms ({len(ids) / elapsed * 1000:.0f}/s)")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(r"(reviews|warmup)/", 30)


if __name__ == "__main__":
    main()
