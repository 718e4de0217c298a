"""The benchmark runner: `python -m bench.runner` (`make bench`), `--smoke` (`make bench-smoke`).

A benchmark is a function decorated with `@benchmark(...)` that does one run of the project's
work and of the raw-SQL limit (the same work in plain SQL through psycopg) and returns both
figures as a `Pair`. The runner calls it `--repeat` times, takes the medians and prints

    what | limit | project | ratio

where the ratio says how many times slower the project is than the limit (for rates too: the
limit's rate over the project's). A run also writes every figure to bench/results/ as JSON.

Adding a benchmark: write the function in a module of `bench/`, decorate it, and list the module
in MODULES below (see bench/README.md). The fleet it runs on is the one `bench.fleet` built into
DATABASE_URL's database (`ctx.built_at` is its moment, when nothing is due); a benchmark that
writes does so inside a transaction it rolls back, because the fleet is shared.

With --smoke the runner builds a tiny fleet in a database of its own next to DATABASE_URL's,
makes one quick pass of every benchmark (figures not meaningful, only that each still runs)
and drops that database.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from bench import RESULTS

os.environ.setdefault("DB_STATEMENT_TIMEOUT", "0")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

# The modules whose @benchmark functions run, in this order.
MODULES = (
    "bench.tick",
    "bench.review_queue",
    "bench.bulk_resolution",
    "bench.console_bulk",
    "bench.incidents",
)
SMOKE_ACCOUNTS = 500


@dataclass
class Pair:
    """One run's figures: the project's and the limit's, in the benchmark's unit, plus any
    extra numbers worth keeping (statement counts, latencies) under `extra`."""

    project: float
    limit: float
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class Context:
    smoke: bool
    built_at: datetime
    accounts: int

    def raw(self):
        """A new psycopg connection (autocommit) to the fleet's database, for the limit."""
        import psycopg
        from django.conf import settings

        db = settings.DATABASES["default"]
        return psycopg.connect(
            dbname=db["NAME"],
            user=db["USER"],
            password=db["PASSWORD"] or None,
            host=db["HOST"] or None,
            port=db["PORT"] or None,
            autocommit=True,
        )


@dataclass
class Benchmark:
    name: str
    what: str
    unit: str  # "ms" (lower is better) or "/s" (higher is better)
    run: Callable[[Context], Pair]


BENCHMARKS: list[Benchmark] = []


def benchmark(name: str, *, what: str, unit: str = "ms"):
    """Register `fn(ctx) -> Pair` as a benchmark: `name` for --only, `what` for the table."""
    if unit not in ("ms", "/s"):
        raise ValueError("unit must be 'ms' or '/s'")

    def register(fn: Callable[[Context], Pair]) -> Callable[[Context], Pair]:
        BENCHMARKS.append(Benchmark(name=name, what=what, unit=unit, run=fn))
        return fn

    return register


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Milliseconds `fn()` took, and what it returned."""
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


@dataclass
class Row:
    name: str
    what: str
    unit: str
    limit: float
    project: float
    ratio: float
    runs: int
    extra: dict[str, float]


def measure(bench: Benchmark, ctx: Context, repeat: int) -> Row:
    pairs = [bench.run(ctx) for _ in range(repeat)]
    project = statistics.median(p.project for p in pairs)
    limit = statistics.median(p.limit for p in pairs)
    if bench.unit == "ms":
        ratio = project / limit if limit else float("inf")
    else:
        ratio = limit / project if project else float("inf")
    extra = {key: statistics.median(p.extra[key] for p in pairs) for key in pairs[0].extra}
    return Row(bench.name, bench.what, bench.unit, limit, project, ratio, repeat, extra)


def _figure(value: float, unit: str) -> str:
    return f"{value:,.1f} ms" if unit == "ms" else f"{value:,.0f}/s"


def table(rows: list[Row]) -> str:
    lines = ["| what | limit | project | ratio |", "| --- | --- | --- | --- |"]
    for row in rows:
        extra = "".join(f", {key} {value:g}" for key, value in row.extra.items())
        lines.append(
            f"| {row.what} | {_figure(row.limit, row.unit)} | "
            f"{_figure(row.project, row.unit)}{extra} | {row.ratio:.1f}x |"
        )
    return "\n".join(lines)


def _has_fleet() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_fleet') IS NOT NULL")
        return cursor.fetchone()[0]


def _fleet() -> tuple[datetime, int] | None:
    from django.db import connection

    if not _has_fleet():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT built_at, accounts FROM bench_fleet")
        return cursor.fetchone()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.runner", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--smoke", action="store_true", help="tiny fleet, one quick pass each")
    parser.add_argument("--repeat", type=int, default=7, help="runs per benchmark (median)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument(
        "--has-fleet", action="store_true", help="exit 0 if the database has a fleet, else 1"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.has_fleet:
        from bench.static import collect_static

        collect_static()  # the admin pages are rendered with DEBUG off, as in production
    import django
    from django.conf import settings

    settings.DATABASES  # noqa: B018 (settings load before the name may change)
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print("bench: DATABASE_URL must point at PostgreSQL", file=sys.stderr)
        return 2
    if args.smoke:
        settings.DATABASES["default"]["NAME"] += "_bench_smoke"
    django.setup()
    if args.has_fleet:
        return 0 if _has_fleet() else 1
    for module in MODULES:
        importlib.import_module(module)
    # Run as `python -m bench.runner`, this file is __main__; the benchmarks registered with
    # the module `bench.runner` that their modules import.
    benchmarks = importlib.import_module("bench.runner").BENCHMARKS
    unknown = set(args.only) - {b.name for b in benchmarks}
    if unknown:
        print(f"bench: no benchmark named {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if args.smoke:
        from bench import fleet

        fleet.recreate_database()
        fleet.build(SMOKE_ACCOUNTS, log=lambda line: None)
    try:
        return _run(args, benchmarks)
    finally:
        if args.smoke:
            _drop_smoke_database()


# The tables the benchmarks read and write (in transactions they roll back).
FLEET_TABLES = ("warmup_warmupphase", "warmup_phaseattempt", "reviews_reviewlog", "warmup_account")


def _vacuum(ctx: Context) -> None:
    """Clear the dead rows the benchmarks before left (each rolls its writes back), as
    autovacuum does on a live system: without it, a count over the queue after the tick's
    benchmark checks the visibility of thousands of dead rows, through psycopg as much as
    through Django, and the figures depend on the order the benchmarks ran in."""
    with ctx.raw() as conn:
        conn.execute(f"VACUUM (ANALYZE) {', '.join(FLEET_TABLES)}")


def _run(args, benchmarks: list[Benchmark]) -> int:
    from django.db import connection

    found = _fleet()
    if found is None:
        name = connection.settings_dict["NAME"]
        print(f"bench: no fleet in {name}; build one: python -m bench.fleet", file=sys.stderr)
        return 2
    ctx = Context(smoke=args.smoke, built_at=found[0], accounts=found[1])
    repeat = 1 if args.smoke else args.repeat
    rows = []
    for bench in benchmarks:
        if args.only and bench.name not in args.only:
            continue
        _vacuum(ctx)
        rows.append(measure(bench, ctx, repeat))
        print(f"  {bench.name}: done", file=sys.stderr)
    print(f"{ctx.accounts:,} accounts, medians of {repeat} runs")
    print(table(rows))
    if not args.smoke:
        _save(ctx, rows)
    return 0


def _save(ctx: Context, rows: list[Row]) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "at": stamp,
        "accounts": ctx.accounts,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rows": [asdict(row) for row in rows],
    }
    for path in (RESULTS / f"bench-{stamp}.json", RESULTS / "latest.json"):
        path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results in {RESULTS / f'bench-{stamp}.json'}")


def _drop_smoke_database() -> None:
    from django.db import connections

    from bench import fleet

    connections.close_all()
    fleet.drop_database()


if __name__ == "__main__":
    sys.exit(main())
