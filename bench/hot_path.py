"""Bot hot path: claim + complete through the services at K threads beside pgbench running the
same two statements (`warmup.hot_path`) at the same K, in the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.hot_path [--accounts 200000] [--threads 4] [--seconds 5]
        [--repeat 3] [--reuse] [--peers]

Claims change data, so this builds its own fleet (`bench.fleet`) into `warmup_bench_h` next to
DATABASE_URL's database (--reuse keeps the one built before; each cycle uses up one ready
phase, 40 % of the accounts have one). Rounds alternate pgbench and the services; it prints the
median of each, the ratio, the services' claim latency p50/p95/p99, and double claims (phases
claimed more than once during the run: must be 0); with --peers also procrastinate and the
django-tasks database backend doing defer, fetch and finish of a no-op task at the same K in
each round (`bench/peers.py`).
Writes bench/results/hot_path.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ["DB_STATEMENT_TIMEOUT"] = "0"
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

DATABASE = "warmup_bench_h"
RESULTS = Path(__file__).resolve().parent / "results"


def pgbench_script() -> str:
    """One cycle as pgbench runs it: the two statements of `warmup.hot_path`, each committed
    on its own as the services do, their parameters written as the values the services pass
    (the lease token made by the database)."""
    from warmup import hot_path
    from warmup.models import MAX_LEASE, MAX_STEP_DELAY

    def interval(delta) -> str:
        return f"interval '{int(delta.total_seconds())} seconds'"

    common = {"now": "now()", "bot": ":bot"}
    claim = hot_path._CLAIM.format(filters="")
    claim_values = {
        **common,
        "token": "gen_random_uuid()",
        "max_lease": interval(MAX_LEASE),
    }
    complete_values = {
        **common,
        "phase": ":m_id",
        "token": ":m_lease_token::uuid",
        "method": "'bot'",
        "outcome": "'completed'",
        "result": "'{}'::jsonb",
        "max_delay": interval(MAX_STEP_DELAY),
    }

    def fill(sql: str, values: dict) -> str:
        sql = re.sub(r"%\((\w+)\)s", lambda m: values[m.group(1)], sql)
        return " ".join(sql.split())  # one line each: pgbench reads a command per line

    # Each its own transaction, as the services commit a claim before the bot works.
    return f"{fill(claim, claim_values)} \\gset\n{fill(hot_path._COMPLETE, complete_values)};\n"


def run_pgbench(script: str, *, bot_id: int, threads: int, seconds: int) -> float:
    """Cycles per second of pgbench (prepared statements, K clients on K threads)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write(script)
        file.flush()
        out = subprocess.run(
            [
                "pgbench", "-n", "-M", "prepared", "-c", str(threads), "-j", str(threads),
                "-T", str(seconds), "-D", f"bot={bot_id}", "-f", file.name,
                "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
                "-U", db["USER"] or "postgres", db["NAME"],
            ],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


class CycleFailed(Exception):
    """A cycle that cannot go on (nothing left to claim, an unexpected answer): the run stops."""


def run_cycles(clients, *, seconds: int, start, cycle, finish) -> tuple[float, list[float]]:
    """Cycles per second of one thread per client, all let go at once, each repeating
    `cycle(session)` (which returns its claim's latency in ms) for `seconds`; and every claim's
    latency. `start(client)` opens a thread's session, `finish(session)` closes it. A
    CycleFailed in any thread ends the run with its message."""
    barrier = threading.Barrier(len(clients) + 1)
    cycles, latencies, errors = [], [], []

    def work(client):
        barrier.wait()
        session, done, mine = start(client), 0, []
        try:
            until = time.perf_counter() + seconds
            while time.perf_counter() < until:
                mine.append(cycle(session))
                done += 1
        except CycleFailed as exc:
            errors.append(str(exc))
        finally:
            cycles.append(done)
            latencies.extend(mine)
            finish(session)

    workers = [threading.Thread(target=work, args=(client,)) for client in clients]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    if errors:
        raise SystemExit(errors[0])
    return sum(cycles) / (time.perf_counter() - started), latencies


def run_services(bots, *, seconds: int) -> tuple[float, list[float]]:
    """Cycles per second of K threads, one bot each, claiming and completing through the
    services for `seconds`; and every claim's latency in ms."""
    from django.db import connection

    from warmup.services.phases import phase_claim, phase_complete

    def cycle(bot) -> float:
        started = time.perf_counter()
        phase = phase_claim(bot=bot)
        latency = (time.perf_counter() - started) * 1000
        if phase is None:
            raise CycleFailed("bench.hot_path: no ready phase left; build a bigger fleet")
        phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
        return latency

    return run_cycles(
        bots,
        seconds=seconds,
        start=lambda bot: bot,
        cycle=cycle,
        finish=lambda bot: connection.close(),
    )


def double_claims(since: datetime) -> int:
    """Phases claimed more than once since `since`: a completed phase is never claimable
    again, so any second attempt is a phase two bots held."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT phase_id FROM warmup_phaseattempt "
            "WHERE claimed_at >= %s GROUP BY phase_id HAVING count(*) > 1) d",
            [since],
        )
        return cursor.fetchone()[0]


def fleet_accounts() -> int:
    """The size the fleet was built with (`bench.fleet` records it)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT accounts FROM bench_fleet")
        return cursor.fetchone()[0]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.hot_path", description=__doc__)
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep the fleet built before")
    parser.add_argument(
        "--peers",
        action="store_true",
        help="procrastinate and django-tasks-db too, each round (bench/peers.py)",
    )
    args = parser.parse_args(argv)
    if min(args.accounts, args.threads, args.seconds, args.repeat) < 1:
        parser.error("--accounts, --threads, --seconds and --repeat must be at least 1")
    return args


def open_own_fleet(who: str, *, accounts: int, reuse: bool) -> bool:
    """Point Django at DATABASE (the writing benchmarks' own fleet, never the shared one) and
    build the fleet there unless `reuse`. False, said on stderr, when DATABASE_URL is not
    PostgreSQL."""
    import django
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print(f"{who}: DATABASE_URL must point at PostgreSQL", file=sys.stderr)
        return False
    settings.DATABASES["default"]["NAME"] = DATABASE
    django.setup()
    from bench import fleet

    if not reuse:
        fleet.recreate_database()
        fleet.build(accounts)
    return True


def main(argv=None) -> int:
    args = parse_args(argv)
    if not open_own_fleet("bench.hot_path", accounts=args.accounts, reuse=args.reuse):
        return 2
    from warmup.services.bots import bot_create

    bots = [bot_create(name=f"hot-path-{secrets.token_hex(4)}")[0] for _ in range(args.threads)]
    script = pgbench_script()
    since = datetime.now(UTC)
    limits, projects, latencies, peers, tasks = [], [], [], [], []
    if args.peers:
        from bench import peers as peer_bench

        peer_bench.recreate()
    for run in range(args.repeat):
        if args.peers:
            peers.append(
                asyncio.run(
                    peer_bench.procrastinate_rate(args.threads, args.seconds, apply_schema=run == 0)
                )
            )
            tasks += peer_bench.django_tasks_rates_apart(args.threads, args.seconds, 1)
        limits.append(run_pgbench(script, bot_id=bots[0].pk, threads=args.threads,
                                  seconds=args.seconds))  # fmt: skip
        rate, claimed = run_services(bots, seconds=args.seconds)
        projects.append(rate)
        latencies.extend(claimed)
    limit, project = statistics.median(limits), statistics.median(projects)
    results = {
        "what": f"bot claim + complete, service layer, {args.threads} threads",
        "limit_cycles_per_s": round(limit),
        "project_cycles_per_s": round(project),
        "project_share_of_limit": round(project / limit, 3),
        "ratio": round(limit / project, 2),
        "claim_ms_p50": round(percentile(latencies, 0.50), 2),
        "claim_ms_p95": round(percentile(latencies, 0.95), 2),
        "claim_ms_p99": round(percentile(latencies, 0.99), 2),
        "double_claims": double_claims(since),
        **({"procrastinate_cycles_per_s": round(statistics.median(peers))} if peers else {}),
        **({"django_tasks_db_cycles_per_s": round(statistics.median(tasks))} if tasks else {}),
        "runs": args.repeat,
        "seconds_per_run": args.seconds,
        "accounts": fleet_accounts(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hot_path.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 1 if results["double_claims"] else 0


if __name__ == "__main__":
    sys.exit(main())
