"""The peers' cycle beside ours: procrastinate and the django-tasks database backend each
deferring, fetching and finishing a no-op task at K concurrent workers, on databases of their
own next to DATABASE_URL's.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.peers [--threads 4] [--seconds 5] [--repeat 3]

Needs the `bench` extra (`pip install -e '.[bench]'`). procrastinate: each worker is a
coroutine on its connection pool doing what its worker does per job: defer (one INSERT through
`procrastinate_defer_jobs`), fetch (`procrastinate_fetch_job`, SKIP LOCKED) and finish
(`procrastinate_finish_job`). django-tasks (`django_tasks_db`): K threads, each doing what its
`db_worker` does per task: enqueue, then in one transaction lock the next ready result (SKIP
LOCKED) and claim it, then run it and save it successful; this runs in a process of its own
(`--django-tasks`) with its own minimal settings. Prints the medians; compare with the service
layer's figure from `bench.hot_path` in the same minutes (`bench.hot_path --peers` runs
procrastinate inside its own rounds). Writes bench/results/peers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

import psycopg

from bench import RESULTS

DATABASE = "warmup_bench_h_peers"
TASKS_DATABASE = "warmup_bench_h_tasks"


def conninfo(dbname: str) -> str:
    import os
    from urllib.parse import urlsplit

    url = urlsplit(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/"))
    return f"host={url.hostname or '127.0.0.1'} port={url.port or 5432} " + (
        f"user={url.username or 'postgres'} dbname={dbname}"
    )


def recreate(name: str = DATABASE) -> None:
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_tasks_rates(threads: int, seconds: int, repeat: int) -> list[float]:
    """The django-tasks database backend's cycles per second, `repeat` runs (own settings:
    call in a process where Django is not set up yet)."""
    import os
    import threading
    from urllib.parse import urlsplit

    import django
    from django.conf import settings

    url = urlsplit(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/"))
    settings.configure(
        INSTALLED_APPS=["django_tasks", "django_tasks_db"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": TASKS_DATABASE,
                "USER": url.username or "postgres",
                "HOST": url.hostname or "127.0.0.1",
                "PORT": url.port or 5432,
                "CONN_MAX_AGE": 60,
            }
        },
        TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
        USE_TZ=True,
    )
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django_tasks_db.models import DBTaskResult

    from bench.noop_task import noop

    recreate(TASKS_DATABASE)
    call_command("migrate", verbosity=0)

    def run() -> float:
        done = [0] * threads

        def worker(index: int) -> None:
            until = time.perf_counter() + seconds
            while time.perf_counter() < until:
                noop.enqueue()
                with transaction.atomic():
                    result = DBTaskResult.objects.ready().get_locked()
                    if result is not None:
                        result.claim(f"bench-{index}")
                if result is not None:
                    result.task.call()
                    result.set_successful(None)
                    done[index] += 1
            connection.close()

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        started = time.perf_counter()
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        return sum(done) / (time.perf_counter() - started)

    return [run() for _ in range(repeat)]


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


def django_tasks_rates_apart(threads: int, seconds: int, repeat: int) -> list[float]:
    """`django_tasks_rates` in a process of its own (django-tasks needs its own settings)."""
    child = subprocess.run(
        [sys.executable, "-m", "bench.peers", "--django-tasks", "--threads", str(threads),
         "--seconds", str(seconds), "--repeat", str(repeat)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(child.stdout.strip().splitlines()[-1])


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--django-tasks", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.threads, args.seconds, args.repeat) < 1:
        parser.error("--threads, --seconds and --repeat must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.django_tasks:  # the child process below
        rates = django_tasks_rates(args.threads, args.seconds, args.repeat)
        print(json.dumps(rates))
        return 0
    recreate()
    rates = [
        asyncio.run(procrastinate_rate(args.threads, args.seconds, apply_schema=run == 0))
        for run in range(args.repeat)
    ]
    tasks_rates = django_tasks_rates_apart(args.threads, args.seconds, args.repeat)
    results = {
        "what": f"defer + fetch + finish of a no-op task, {args.threads} workers",
        "procrastinate_cycles_per_s": round(statistics.median(rates)),
        "django_tasks_db_cycles_per_s": round(statistics.median(tasks_rates)),
        "runs": args.repeat,
        "seconds_per_run": args.seconds,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "peers.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
