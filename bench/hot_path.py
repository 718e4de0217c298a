"""Bot hot path: claim + complete through the services at K threads beside pgbench running the
same two statements (`warmup.services.bot_statements`) at the same K, in the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.hot_path [--accounts 200000] [--threads 4] [--seconds 5]
        [--repeat 3] [--reuse] [--peers] [--smoke]

Claims change data, so this builds its own fleet (`bench.fleet`) into `warmup_bench_h` next to
DATABASE_URL's database (--reuse keeps the one built before; each cycle uses up one ready
phase, 40 % of the accounts have one). Rounds alternate pgbench and the services; it prints the
median of each, the ratio, the services' claim latency p50/p95/p99, and double claims (phases
claimed more than once during the run: must be 0); with --peers also procrastinate and the
django-tasks database backend doing defer, fetch and finish of a no-op task at the same K in
each round (`bench/peers.py`).
Writes bench/results/hot_path.json.

With --smoke (`make bench-smoke`) it builds a tiny fleet in a database of its own,
`<DATABASE_URL's name>_bench_h_smoke`, runs one round of a fixed number of cycles per thread
(pgbench with -t, so it cannot run out of ready phases), prints the JSON without writing it
and drops that database: the figures mean nothing, the run proves the code still works (a
failure or a double claim exits non-zero). --peers is left out of smoke.
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
import time
from contextlib import contextmanager
from datetime import UTC, datetime

from bench import RESULTS
from bench.threads import CycleFailed, percentiles, together

os.environ["DB_STATEMENT_TIMEOUT"] = "0"
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

DATABASE = "warmup_bench_h"
SMOKE_SUFFIX = "_bench_h_smoke"
# --smoke: cycles per thread (pgbench transactions per client, and service cycles alike).
SMOKE_CYCLES = 5


def pgbench_script() -> str:
    """One cycle as pgbench runs it: the two statements of `warmup.services.bot_statements`, each
    committed on its own as the services do, their parameters written as the values the services
    pass (the lease token made by the database)."""
    from warmup.services import bot_statements as hot_path

    common = {"now": "now()", "bot": ":bot"}
    claim = hot_path.CLAIM_STATEMENTS[()]  # no narrowing
    claim_values = {**common, "token": "gen_random_uuid()"}
    complete_values = {
        **common,
        "phase": ":m_id",
        "token": ":m_lease_token::uuid",
        "method": "'bot'",
        "result": "'{}'::jsonb",
    }

    def fill(sql: str, values: dict) -> str:
        sql = re.sub(r"%\((\w+)\)s", lambda m: values[m.group(1)], sql)
        return " ".join(sql.split())  # one line each: pgbench reads a command per line

    # Each its own transaction, as the services commit a claim before the bot works.
    complete = hot_path.COMPLETE_STATEMENT
    return f"{fill(claim, claim_values)} \\gset\n{fill(complete, complete_values)};\n"


def run_pgbench(
    script: str, *, bot_id: int, threads: int, seconds: int, count: int | None = None
) -> float:
    """Cycles per second of pgbench (prepared statements, K clients on K threads), for
    `seconds`, or `count` transactions per client when given. A failed pgbench (a client
    aborted: say the claim found no ready phase) ends the run with its message."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    length = ["-T", str(seconds)] if count is None else ["-t", str(count)]
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write(script)
        file.flush()
        done = subprocess.run(
            [
                "pgbench", "-n", "-M", "prepared", "-c", str(threads), "-j", str(threads),
                *length, "-D", f"bot={bot_id}", "-f", file.name,
                "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
                "-U", db["USER"] or "postgres", db["NAME"],
            ],
            capture_output=True, text=True,
        )  # fmt: skip
    found = re.search(r"tps = ([\d.]+)", done.stdout)
    if done.returncode or found is None:
        raise SystemExit(
            f"bench.hot_path: pgbench failed (exit {done.returncode}):\n"
            f"{done.stderr.strip()}\n{done.stdout.strip()}"
        )
    return float(found.group(1))


def run_cycles(
    clients, *, seconds: int, start, cycle, finish, count: int | None = None
) -> tuple[float, list[float]]:
    """Cycles per second of one thread per client, all let go at once, each repeating
    `cycle(session)` (which returns its claim's latency in ms) for `seconds`, or `count` times
    when given; and every claim's latency. `start(client)` opens a thread's session,
    `finish(session)` closes it. A CycleFailed in any thread ends the run (bench.threads)."""
    cycles, latencies = [], []

    def work(client):
        done, mine = 0, []
        try:
            session = start(client)
            try:
                until = time.perf_counter() + seconds
                while (done < count) if count is not None else (time.perf_counter() < until):
                    mine.append(cycle(session))
                    done += 1
            finally:
                finish(session)
        finally:
            cycles.append(done)
            latencies.extend(mine)

    elapsed = together(work, clients)
    return sum(cycles) / elapsed, latencies


def run_services(bots, *, seconds: int, count: int | None = None) -> tuple[float, list[float]]:
    """Cycles per second of K threads, one bot each, claiming and completing through the
    services for `seconds` (or `count` cycles each); and every claim's latency in ms."""
    from django.db import connection

    from warmup.services.bot_work import phase_claim, phase_complete

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
        count=count,
        start=lambda bot: bot,
        cycle=cycle,
        finish=lambda bot: connection.close(),
    )


@contextmanager
def through_pgbouncer(port: int):
    """Connections opened inside (each bot thread's) go through PgBouncer on `port`, as with
    DATABASE_URL pointing at it and DATABASE_POOLED=1: no startup options, the bots'
    statements unprepared."""
    from django.conf import settings
    from django.db import connections

    shared = connections.settings["default"]  # what every thread's connection is made from
    before = {"PORT": shared["PORT"], "OPTIONS": shared["OPTIONS"]}
    prepared = settings.DATABASE_PREPARED_STATEMENTS
    shared["PORT"] = str(port)
    shared["OPTIONS"] = {k: v for k, v in shared["OPTIONS"].items() if k != "options"}
    settings.DATABASE_PREPARED_STATEMENTS = False
    try:
        yield
    finally:
        shared.update(before)
        settings.DATABASE_PREPARED_STATEMENTS = prepared


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
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny fleet in a database of its own, one short round, nothing written",
    )
    parser.add_argument(
        "--pgbouncer",
        type=int,
        metavar="PORT",
        help="each round, the services' cycle through PgBouncer on PORT too, as with "
        "DATABASE_POOLED=1 (scripts/pgbouncer.sh start PORT)",
    )
    args = parser.parse_args(argv)
    if args.pgbouncer is not None and not 0 < args.pgbouncer < 65536:
        parser.error("--pgbouncer: a port number")
    if min(args.accounts, args.threads, args.seconds, args.repeat) < 1:
        parser.error("--accounts, --threads, --seconds and --repeat must be at least 1")
    if args.smoke and args.peers:
        parser.error("--peers needs the bench extra; smoke leaves it out")
    return args


def smoke_accounts(cycles: int) -> int:
    """A fleet with ready phases for twice `cycles` (40 % of the accounts have one, and a
    completion readies nothing before its step's delay), at least the 100 `bench.fleet` needs."""
    return max(100, cycles * 5)


def open_own_fleet(
    who: str, *, accounts: int, reuse: bool, smoke: bool = False, database: str = DATABASE
) -> bool:
    """Point Django at `database` (a writing benchmark's own fleet, never the shared one) and
    build the fleet there unless `reuse`. With `smoke`, the database is DATABASE_URL's name
    plus SMOKE_SUFFIX instead (a run of its own, next to the caller's database), always built
    afresh and quietly; `drop_smoke_fleet()` drops it. False, said on stderr, when DATABASE_URL
    is not PostgreSQL."""
    import django
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print(f"{who}: DATABASE_URL must point at PostgreSQL", file=sys.stderr)
        return False
    if smoke:
        settings.DATABASES["default"]["NAME"] += SMOKE_SUFFIX
    else:
        settings.DATABASES["default"]["NAME"] = database
    django.setup()
    from bench import fleet

    if smoke or not reuse:
        fleet.recreate_database()
        fleet.build(accounts, log=(lambda line: None) if smoke else print)
    return True


def drop_smoke_fleet() -> None:
    """Drop the smoke run's own database (`open_own_fleet(..., smoke=True)`)."""
    from django.conf import settings
    from django.db import connections

    from bench import fleet

    if not settings.DATABASES["default"]["NAME"].endswith(SMOKE_SUFFIX):
        raise RuntimeError("not a smoke run's database; left alone")
    connections.close_all()
    fleet.drop_database()


def save(name: str, results: dict, *, smoke: bool) -> None:
    """Print the results as JSON; write them to bench/results/<name> unless in a smoke run."""
    if not smoke:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


def main(argv=None) -> int:
    return run_rounds("bench.hot_path", parse_args(argv), run)


def run_rounds(who: str, args, run) -> int:
    """A round-based writing benchmark's main: `run(args, count)` on its own fleet; in a smoke
    run one round of SMOKE_CYCLES cycles per thread on a tiny fleet, dropped after."""
    count = SMOKE_CYCLES if args.smoke else None
    if args.smoke:
        args.repeat = 1
    accounts = smoke_accounts(2 * args.threads * SMOKE_CYCLES) if args.smoke else args.accounts
    database = getattr(args, "database", None) or DATABASE
    if not open_own_fleet(
        who, accounts=accounts, reuse=args.reuse, smoke=args.smoke, database=database
    ):
        return 2
    try:
        return run(args, count)
    finally:
        if args.smoke:
            drop_smoke_fleet()


def run(args, count: int | None) -> int:
    from warmup.services.bots import bot_create

    bots = [bot_create(name=f"hot-path-{secrets.token_hex(4)}")[0] for _ in range(args.threads)]
    script = pgbench_script()
    since = datetime.now(UTC)
    limits, projects, latencies, peers, tasks = [], [], [], [], []
    pooled, pooled_latencies = [], []
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
                                  seconds=args.seconds, count=count))  # fmt: skip
        rate, claimed = run_services(bots, seconds=args.seconds, count=count)
        projects.append(rate)
        latencies.extend(claimed)
        if args.pgbouncer:
            with through_pgbouncer(args.pgbouncer):
                rate, claimed = run_services(bots, seconds=args.seconds, count=count)
            pooled.append(rate)
            pooled_latencies.extend(claimed)
    limit, project = statistics.median(limits), statistics.median(projects)
    if pooled:
        through = {
            "pgbouncer_cycles_per_s": round(statistics.median(pooled)),
            "pgbouncer_share_of_direct": round(statistics.median(pooled) / project, 3),
            **percentiles(pooled_latencies, "pgbouncer_claim_ms_"),
        }
    else:
        through = {}
    results = {
        "what": f"bot claim + complete, service layer, {args.threads} threads",
        "limit_cycles_per_s": round(limit),
        "project_cycles_per_s": round(project),
        "project_share_of_limit": round(project / limit, 3),
        "ratio": round(limit / project, 2),
        **percentiles(latencies, "claim_ms_"),
        **through,
        "double_claims": double_claims(since),
        **({"procrastinate_cycles_per_s": round(statistics.median(peers))} if peers else {}),
        **({"django_tasks_db_cycles_per_s": round(statistics.median(tasks))} if tasks else {}),
        "runs": args.repeat,
        **({"cycles_per_thread": count} if count else {"seconds_per_run": args.seconds}),
        "accounts": fleet_accounts(),
        **({"smoke": True} if args.smoke else {}),
    }
    save("hot_path.json", results, smoke=args.smoke)
    return 1 if results["double_claims"] else 0


if __name__ == "__main__":
    sys.exit(main())
