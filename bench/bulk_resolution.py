"""Bulk resolution benchmark: `manage.py resolve_reviews` resolving N review items (resume),
beside the set-based limit from the same run: one UPDATE of the same phases and one INSERT of
their log rows, in plain SQL through psycopg.

Both run inside a transaction that is rolled back, so the fleet is the same afterwards (and
each sees the same items). Returns (project items/s, limit items/s); with --profile, the
command's cProfile top lines too.

Usage (PostgreSQL with a fleet of at least N items in review):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \
    .venv/bin/python bench/bulk_resolution.py [--items 10000] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 60)
os.environ.setdefault("DB_STATEMENT_TIMEOUT", "0")

# The limit: the same move and log rows as a resume, set-based, without the hash chain.
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
INSERT INTO reviews_reviewlog (action, actor_type, actor_user_id, from_status, to_status,
    failure_category, retry_count, escalation_level, resolution_method, reason_code, note,
    time_in_review, data, created_at, account_id, phase_id, batch, previous_hash, hash)
SELECT 'resumed', 'user', %(user)s, 'review_required', 'available', last_failure_category,
    retry_count, escalation_level, 'resume', 'replaced_proxy', 'bench', now() -
    review_required_since, jsonb_build_object('content', content_id), now(), account_id, id,
    gen_random_uuid(), '', ''
FROM moved
"""


def setup() -> None:
    import django

    django.setup()


def selected_ids(count: int) -> list[int]:
    from reviews.selectors import review_queue

    return list(
        review_queue().filter(account__status="active").values_list("pk", flat=True)[:count]
    )


def reviewer():
    from django.contrib.auth import get_user_model

    from reviews.permissions import reviewers_group

    user, _ = get_user_model().objects.get_or_create(
        username="bench-reviewer", defaults={"is_staff": True}
    )
    user.groups.add(reviewers_group())
    return user


class Rollback(Exception):
    """Raised to roll the run back."""


def project_rate(ids: list[int], user, profile: cProfile.Profile | None = None) -> float:
    """Items per second of `resolve_reviews --action resume` over `ids`, rolled back."""
    from django.core.management import call_command
    from django.db import transaction

    out = io.StringIO()
    args = ["resolve_reviews", "--user", user.username, "--ids", ",".join(map(str, ids))]
    args += ["--action", "resume", "--reason", "replaced_proxy", "--note", "bench"]
    try:
        with transaction.atomic():
            start = time.perf_counter()
            if profile:
                profile.enable()
            call_command(*args, stdout=out, stderr=io.StringIO())
            if profile:
                profile.disable()
            elapsed = time.perf_counter() - start
            raise Rollback
    except Rollback:
        pass
    assert f"{len(ids)} items changed" in out.getvalue(), out.getvalue()[-2000:]
    return len(ids) / elapsed


def limit_rate(ids: list[int], user) -> float:
    """Items per second of the set-based SQL for the same items, rolled back."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as conn:
        start = time.perf_counter()
        moved = conn.execute(LIMIT_SQL, {"ids": ids, "user": user.pk}).rowcount
        elapsed = time.perf_counter() - start
        conn.rollback()
    assert moved == len(ids), moved
    return len(ids) / elapsed


def bulk_resolution(items: int, repeat: int, profile: bool = False) -> dict:
    """Median items/s of the project and of the limit, alternating, over the same items."""
    user = reviewer()
    ids = selected_ids(items)
    if len(ids) < items:
        raise SystemExit(f"only {len(ids)} items in review on active accounts; need {items}")
    project, limit = [], []
    profiler = cProfile.Profile() if profile else None
    for _ in range(repeat):
        limit.append(limit_rate(ids, user))
        project.append(project_rate(ids, user, profiler))
    result = {
        "items": items,
        "project_items_per_s": round(statistics.median(project)),
        "limit_items_per_s": round(statistics.median(limit)),
    }
    result["share_of_limit"] = round(result["project_items_per_s"] / result["limit_items_per_s"], 3)
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(
            r"(reviews|warmup|config)/", 40
        )
        print(text.getvalue())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("bench/bulk_resolution.py needs DATABASE_URL to a PostgreSQL database")
    result = bulk_resolution(args.items, args.repeat, args.profile)
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "bulk_resolution.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
