"""Churn: does the claim stay fast after 100,000 bot cycles, and what do they leave behind?

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.churn [--cycles 100000] [--threads 4] [--window 2000]
        [--accounts 300000] [--reuse] [--smoke]

Runs on the fleet of `bench.hot_path` (`warmup_bench_h`; --reuse keeps the one built before;
each cycle uses up one ready phase, 40 % of the accounts have one). K threads, one bot each,
claim, heartbeat and complete through the services. Claim latency p50/p95/p99 is taken over
the first `window` cycles (fresh) and over `window` cycles after all of them (churned), and
the review queue's first page (as the review API reads it) before and after; the phases
table's updates, HOT updates and dead tuples come from pg_stat_user_tables, and a run of
heartbeats alone shows whether a heartbeat is a HOT update (it is only if it writes no indexed
column: the columns it writes are set against every index's columns and predicate). Prints
JSON and writes bench/results/churn.json. Not a test: it takes minutes.

With --smoke (`make bench-smoke`), as `bench.hot_path --smoke`: a tiny fleet in
`<DATABASE_URL's name>_bench_h_smoke`, a few dozen cycles and a short heartbeat run, the JSON
printed but not written, the database dropped; a failure exits non-zero. Seconds.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime

from bench.hot_path import double_claims, drop_smoke_fleet, open_own_fleet, save, smoke_accounts
from bench.threads import CycleFailed, percentile, percentiles, together

TABLE = "warmup_warmupphase"
# What `phase_heartbeat` writes (warmup.services.bot_work).
HEARTBEAT_COLUMNS = {"lease_expires_at", "updated_at"}
# --smoke: cycles, window, and the heartbeat run's leases and beats.
SMOKE = {"cycles": 20, "window": 10, "leases": 5, "beats": 2}


def cycles(bots, count: int, *, heartbeat: bool = True) -> list[float]:
    """`count` claim (+ heartbeat) + complete cycles over K threads; claim latencies in ms.
    A failure in any thread ends the run (raised again here: a thread's own would be lost)."""
    from django.db import connection

    from warmup.services.bot_work import phase_claim, phase_complete, phase_heartbeat

    left = [count]
    lock = threading.Lock()
    latencies: list[float] = []
    failed = threading.Event()  # one thread's failure stops the others

    def work(bot):
        mine = []
        try:
            while not failed.is_set():
                with lock:
                    if left[0] <= 0:
                        break
                    left[0] -= 1
                started = time.perf_counter()
                phase = phase_claim(bot=bot)
                mine.append((time.perf_counter() - started) * 1000)
                if phase is None:
                    raise CycleFailed("bench.churn: no ready phase left; build a bigger fleet")
                if heartbeat:
                    phase_heartbeat(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
                phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
        except Exception:
            failed.set()
            raise
        finally:
            with lock:
                latencies.extend(mine)
            connection.close()  # flushes this connection's table statistics

    together(work, bots)
    return latencies


def heartbeats_only(bot, leases: int, beats: int) -> dict:
    """Claim `leases` phases, then heartbeat each `beats` times (the churn measured alone)."""
    from django.db import connection

    from warmup.services.bot_work import phase_claim, phase_complete, phase_heartbeat

    held = [phase_claim(bot=bot) for _ in range(leases)]
    if None in held:
        raise SystemExit("bench.churn: no ready phase left; build a bigger fleet")
    connection.close()
    before = table_stats()
    for _ in range(beats):
        for phase in held:
            phase_heartbeat(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
    connection.close()
    after = table_stats()
    for phase in held:
        phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
    return {key: after[key] - before[key] for key in ("updates", "hot_updates")}


def table_stats() -> dict:
    from django.db import connection

    time.sleep(1.5)  # statistics reach the shared counters within a second of a commit
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd, n_live_tup, n_dead_tup, autovacuum_count "
            "FROM pg_stat_user_tables WHERE relname = %s",
            [TABLE],
        )
        row = cursor.fetchone()
    return dict(zip(("updates", "hot_updates", "live", "dead", "autovacuums"), row, strict=True))


def indexed_columns() -> dict[str, list[str]]:
    """For every index of the phases table, the columns it reads (keys and predicate)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, a.attname FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum > 0 "
            "AND (a.attnum = ANY(i.indkey) OR pg_get_expr(i.indpred, i.indrelid) "
            "LIKE '%%' || a.attname || '%%') "
            "WHERE i.indrelid = %s::regclass ORDER BY 1, 2",
            [TABLE],
        )
        found: dict[str, list[str]] = {}
        for index, column in cursor.fetchall():
            found.setdefault(index, []).append(column)
    return found


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.churn", description=__doc__)
    parser.add_argument("--cycles", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--window", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=300_000)
    parser.add_argument("--reuse", action="store_true", help="keep the fleet built before")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny fleet in a database of its own, a few dozen cycles, nothing written",
    )
    args = parser.parse_args(argv)
    if min(args.cycles, args.threads, args.window, args.accounts) < 1:
        parser.error("--cycles, --threads, --window and --accounts must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    leases, beats = 50, 20
    if args.smoke:
        args.cycles, args.window = SMOKE["cycles"], SMOKE["window"]
        leases, beats = SMOKE["leases"], SMOKE["beats"]
        args.accounts = smoke_accounts(args.cycles + 2 * args.window + leases)
    if not open_own_fleet(
        "bench.churn", accounts=args.accounts, reuse=args.reuse, smoke=args.smoke
    ):
        return 2
    try:
        return run(args, leases=leases, beats=beats)
    finally:
        if args.smoke:
            drop_smoke_fleet()


def queue_page_ms(repeat: int = 7) -> float:
    """Median milliseconds of the review queue's first page as the review API reads it (the
    count and 50 rows with what they show), through the ORM."""
    import statistics

    from warmup.selectors.queue import review_queue

    def page() -> float:
        started = time.perf_counter()
        queue = review_queue(with_step=False)
        queue.count()
        list(queue[:50])
        return (time.perf_counter() - started) * 1000

    page()  # warm
    return statistics.median(page() for _ in range(repeat))


def run(args, *, leases: int, beats: int) -> int:
    from warmup.services.bots import bot_create

    bots = [bot_create(name=f"churn-{i}-{time.time_ns()}")[0] for i in range(args.threads)]
    heartbeat = heartbeats_only(bots[0], leases=leases, beats=beats)
    start = table_stats()
    since = datetime.now(UTC)
    page_fresh = queue_page_ms()
    started = time.perf_counter()
    fresh = cycles(bots, args.window)
    cycles(bots, args.cycles)
    churned = cycles(bots, args.window)
    elapsed = time.perf_counter() - started
    page_after = queue_page_ms()
    end = table_stats()
    updates = end["updates"] - start["updates"]
    hot = end["hot_updates"] - start["hot_updates"]
    touching = {
        index: sorted(HEARTBEAT_COLUMNS & set(columns))
        for index, columns in indexed_columns().items()
        if HEARTBEAT_COLUMNS & set(columns)
    }
    results = {
        "cycles": args.cycles + 2 * args.window,
        "threads": args.threads,
        "cycles_per_s": round((args.cycles + 2 * args.window) / elapsed),
        "claim_ms_fresh": percentiles(fresh),
        "claim_ms_after": percentiles(churned),
        "p95_after_over_fresh": round(percentile(churned, 0.95) / percentile(fresh, 0.95), 2),
        "double_claims": double_claims(since),
        "queue_page_ms_fresh": round(page_fresh, 2),
        "queue_page_ms_after": round(page_after, 2),
        "queue_page_after_over_fresh": round(page_after / page_fresh, 2),
        "phase_updates": updates,
        "phase_hot_updates": hot,
        "hot_ratio": round(hot / updates, 3) if updates else None,
        "dead_tuples_after": end["dead"],
        "live_tuples_after": end["live"],
        "autovacuums_during": end["autovacuums"] - start["autovacuums"],
        "heartbeat_updates": heartbeat["updates"],
        "heartbeat_hot_updates": heartbeat["hot_updates"],
        "heartbeat_writes": sorted(HEARTBEAT_COLUMNS),
        "indexes_reading_heartbeat_columns": touching,
        **({"smoke": True} if args.smoke else {}),
    }
    save("churn.json", results, smoke=args.smoke)
    return 1 if results["double_claims"] else 0


if __name__ == "__main__":
    sys.exit(main())
