"""The review dashboard on the fleet, from the read replica and from the primary, alternating.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<fleet> \\
    DATABASE_REPLICA_URL=postgresql://postgres@127.0.0.1:5433/<fleet> \\
        .venv/bin/python -m bench.dashboard [--days 14 90] [--repeat 5]

Renders `/admin/reviews/dashboard/?days=N` (and its live poll) as a reviewer through Django's
test client, inside a transaction rolled back after, on the fleet `bench.fleet` built into
DATABASE_URL's database. With DATABASE_REPLICA_URL set (a hot standby, `scripts/standby.sh
start PORT`), each run renders the page twice, once with its heavy reads on the replica and
once on the primary (the replica refused by a lag limit below zero), in alternating order;
without it, from the primary only. The page says where its figures came from: the run fails
if a render meant for the replica was served by the primary. There is no raw-SQL limit: the
dashboard's figures are a dozen grouped reads of the review log and the queue
(`reviews.analytics.review_dashboard`), and the point measured is what moving them off the
primary costs the page. Writes bench/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys

from bench import RESULTS

os.environ.setdefault("DB_STATEMENT_TIMEOUT", "0")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

PAGE = "/admin/reviews/dashboard/"
LIVE = "/admin/reviews/dashboard/live/"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--days", type=int, nargs="+", default=[14, 90], help="windows (1-90)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if args.repeat < 1 or not all(1 <= days <= 90 for days in args.days):
        parser.error("--repeat at least 1, --days between 1 and 90")
    return args


def _render(client, url: str, *, replica: bool) -> tuple[float, int, bool]:
    """Milliseconds and queries (on either database) of one GET, and whether the replica
    served its heavy reads."""
    from django.db import connections
    from django.test import override_settings

    from bench.runner import timed
    from config.replica import forget_replica_check, replica_source

    queries = []

    def count(execute, *args):
        queries.append(1)
        return execute(*args)

    # A lag limit below zero turns the replica down: the heavy reads go to the primary.
    limit = {} if replica else {"REPLICA_MAX_LAG_SECONDS": -1}
    with override_settings(**limit):
        forget_replica_check()
        served = replica_source().replica
        wrappers = [connections[alias].execute_wrapper(count) for alias in connections]
        for wrapper in wrappers:
            wrapper.__enter__()
        try:
            elapsed, response = timed(lambda: client.get(url))
        finally:
            for wrapper in wrappers:
                wrapper.__exit__(None, None, None)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    if replica and not served:
        raise RuntimeError("the replica did not serve the dashboard (see the log line)")
    return elapsed, len(queries), served


def main(argv=None) -> int:
    args = parse_args(argv)
    from bench.static import collect_static

    collect_static()
    import django

    django.setup()
    from django.db import connection

    from bench.review_queue import _as_reviewer
    from config.replica import configured

    if connection.vendor != "postgresql":
        print("bench.dashboard: DATABASE_URL must point at PostgreSQL", file=sys.stderr)
        return 2
    sides = (True, False) if configured() else (False,)
    results = {"replica_configured": configured(), "runs": args.repeat, "pages": []}
    with _as_reviewer() as client:
        for days in args.days:
            for url in (f"{PAGE}?days={days}", LIVE):
                if url == LIVE and days != args.days[0]:
                    continue
                for side in sides:  # warm each side once
                    _render(client, url, replica=side)
                runs = {side: [] for side in sides}
                for run in range(args.repeat):
                    order = sides if run % 2 == 0 else tuple(reversed(sides))
                    for side in order:
                        runs[side].append(_render(client, url, replica=side))
                for side in sides:
                    page = {
                        "url": url,
                        "from": "replica" if side else "primary",
                        "median_ms": round(statistics.median(ms for ms, _, _ in runs[side]), 1),
                        "max_ms": round(max(ms for ms, _, _ in runs[side]), 1),
                        "queries": runs[side][0][1],
                    }
                    results["pages"].append(page)
                    print(
                        f"{page['url']} from the {page['from']}: {page['median_ms']} ms "
                        f"(max {page['max_ms']}), {page['queries']} queries",
                        file=sys.stderr,
                    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
