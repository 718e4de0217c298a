"""A peer's cycle beside ours: procrastinate deferring, fetching and finishing a no-op task at
K concurrent workers, on a database of its own next to DATABASE_URL's.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.peers [--threads 4] [--seconds 5] [--repeat 3]

Needs the `bench` extra (`pip install -e '.[bench]'`). Each worker is a coroutine on
procrastinate's own connection pool doing what its worker does per job: defer (one INSERT
through `procrastinate_defer_jobs`), fetch (`procrastinate_fetch_job`, SKIP LOCKED) and finish
(`procrastinate_finish_job`). Prints the median cycles per second; compare with the service
layer's figure from `bench.hot_path` in the same minutes. Writes bench/results/peers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

import psycopg

from bench.hot_path import RESULTS

DATABASE = "warmup_bench_h_peers"


def conninfo(dbname: str) -> str:
    import os
    from urllib.parse import urlsplit

    url = urlsplit(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/"))
    return f"host={url.hostname or '127.0.0.1'} port={url.port or 5432} " + (
        f"user={url.username or 'postgres'} dbname={dbname}"
    )


def recreate() -> None:
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


async def procrastinate_rate(threads: int, seconds: int, *, apply_schema: bool) -> float:
    from procrastinate import App, PsycopgConnector
    from procrastinate.jobs import Status

    app = App(connector=PsycopgConnector(conninfo=conninfo(DATABASE), min_size=threads))

    @app.task(name="noop")
    def noop():
        return None

    async with app.open_async():
        if apply_schema:
            await app.schema_manager.apply_schema_async()
        manager = app.job_manager
        done = [0] * threads

        async def worker(index: int) -> None:
            worker_id = await manager.register_worker()
            until = time.perf_counter() + seconds
            while time.perf_counter() < until:
                await noop.defer_async()
                job = await manager.fetch_job(queues=None, worker_id=worker_id)
                if job is not None:
                    await manager.finish_job(job, Status.SUCCEEDED, delete_job=False)
                    done[index] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(threads)))
        return sum(done) / (time.perf_counter() - started)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if min(args.threads, args.seconds, args.repeat) < 1:
        parser.error("--threads, --seconds and --repeat must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    recreate()
    rates = [
        asyncio.run(procrastinate_rate(args.threads, args.seconds, apply_schema=run == 0))
        for run in range(args.repeat)
    ]
    results = {
        "what": f"procrastinate defer + fetch + finish of a no-op task, {args.threads} workers",
        "procrastinate_cycles_per_s": round(statistics.median(rates)),
        "runs": args.repeat,
        "seconds_per_run": args.seconds,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "peers.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
