"""Bot hot path over HTTP: claim + complete against gunicorn run as `make serve` runs it (gthread
workers, CONN_MAX_AGE, keep-alive), beside the same cycle through the services, at the same K.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.http_path [--threads 4] [--seconds 5] [--repeat 3]
        [--workers 2] [--web-threads 4] [--accounts 200000] [--reuse] [--database NAME] [--smoke]

Runs on the fleet of `bench.hot_path` (`warmup_bench_h`, or --database; --reuse keeps the one
built before). Each client thread is one bot on one kept-alive connection. The server runs with
DEBUG off and logs at INFO to a file, as in production, with REDIS_URL if the caller has it;
only the bot rate limit is lifted (the load is the point here). Prints the medians, the ratio
(services over HTTP), the server's CPU per cycle (user + system of gunicorn's master and
workers over each round, from /proc) beside the service layer's (this process's CPU over its
rounds, the server idle meanwhile), the claim latency over HTTP p50/p95/p99 and double claims.
CPU time moves less than the rate with other work on the machine, but it moves: compare runs
made in the same minutes. Writes bench/results/http_path.json.

With --smoke (`make bench-smoke`), as `bench.hot_path --smoke`: a tiny fleet in
`<DATABASE_URL's name>_bench_h_smoke`, one round of a few cycles per bot over HTTP and through
the services, the JSON printed but not written, the database dropped; a failure exits non-zero.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.hot_path import double_claims, run_cycles, run_rounds, run_services, save
from bench.threads import CycleFailed, percentiles

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(*, workers: int, threads: int, log) -> tuple[subprocess.Popen, int]:
    """gunicorn as `make serve` runs it, on the bench fleet; returns it once it answers."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        BOT_RATE="100000000/minute",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application",
            f"--bind=127.0.0.1:{port}", f"--workers={workers}", "--worker-class=gthread",
            f"--threads={threads}",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"bench.http_path: gunicorn exited ({process.returncode}):\n{_tail(log)}"
            )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("POST", "/api/v1/bot/phases/claim/")
            conn.getresponse().read()
            return process, port
        except OSError:
            time.sleep(0.2)
    stop_server(process)
    raise SystemExit(f"bench.http_path: gunicorn did not answer within 60 s:\n{_tail(log)}")


def _tail(log, lines: int = 30) -> str:
    """The last lines gunicorn wrote to its log file."""
    log.flush()
    return "\n".join(Path(log.name).read_text(errors="replace").splitlines()[-lines:])


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu(master: int) -> float:
    """Seconds of CPU (user + system) the gunicorn master and its workers have used so far,
    from /proc/<pid>/stat (Linux); a worker counts from when it started."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The fields after the command's closing parenthesis (the command may hold spaces).
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # a process that ended meanwhile
            continue
        pid, parent = int(entry.name), int(fields[1])
        if pid == master or parent == master:
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


def cpu_ms_per_cycle(cpu_seconds: float, cycles: int) -> float:
    return cpu_seconds * 1000 / cycles if cycles else 0.0


def run_http(
    port: int, tokens: list[str], *, seconds: int, count: int | None = None
) -> tuple[float, list[float]]:
    """Cycles per second of one client thread per bot token, each on its own kept-alive
    connection, for `seconds` (or `count` cycles each); and every claim's latency in ms."""

    def post(session, path: str, body: dict) -> dict:
        conn, headers = session
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise CycleFailed(f"bench.http_path: {path} answered {response.status}")
        return json.loads(data) if data else {}

    def start(token: str):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30), headers

    def cycle(session) -> float:
        started = time.perf_counter()
        phase = post(session, "/api/v1/bot/phases/claim/", {})
        latency = (time.perf_counter() - started) * 1000
        post(
            session,
            f"/api/v1/bot/phases/{phase['id']}/complete/",
            {"lease_token": phase["lease_token"]},
        )
        return latency

    return run_cycles(
        tokens,
        seconds=seconds,
        count=count,
        start=start,
        cycle=cycle,
        finish=lambda s: s[0].close(),
    )


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.http_path", description=__doc__)
    parser.add_argument("--threads", type=int, default=4, help="bots (client threads), K")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--web-threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--reuse", action="store_true", help="keep the fleet built before")
    parser.add_argument(
        "--database", help="the fleet's database (default warmup_bench_h, as bench.hot_path)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny fleet in a database of its own, one short round, nothing written",
    )
    args = parser.parse_args(argv)
    if min(args.threads, args.seconds, args.repeat, args.workers, args.web_threads) < 1:
        parser.error("--threads, --seconds, --repeat, --workers and --web-threads must be >= 1")
    return args


def main(argv=None) -> int:
    return run_rounds("bench.http_path", parse_args(argv), run)


def run(args, count: int | None) -> int:
    from warmup.services.bots import bot_create

    made = [bot_create(name=f"http-path-{os.urandom(4).hex()}") for _ in range(args.threads)]
    bots, tokens = [bot for bot, _ in made], [token for _, token in made]
    since = datetime.now(UTC)
    over_http, services, latencies, server_ms, services_ms = [], [], [], [], []
    with tempfile.NamedTemporaryFile("w", suffix=".log") as log:
        process, port = start_server(workers=args.workers, threads=args.web_threads, log=log)
        try:
            for _ in range(args.repeat):
                before = server_cpu(process.pid)
                rate, claimed = run_http(port, tokens, seconds=args.seconds, count=count)
                server_ms.append(cpu_ms_per_cycle(server_cpu(process.pid) - before, len(claimed)))
                over_http.append(rate)
                latencies.extend(claimed)
                # This process's CPU, all threads: the bots' service calls (the server idles).
                before = time.process_time()
                rate, claimed = run_services(bots, seconds=args.seconds, count=count)
                services_ms.append(cpu_ms_per_cycle(time.process_time() - before, len(claimed)))
                services.append(rate)
        finally:
            stop_server(process)
    project, limit = statistics.median(over_http), statistics.median(services)
    results = {
        "what": f"bot claim + complete over HTTP, {args.threads} bots, gunicorn "
        f"{args.workers}x{args.web_threads} gthread, vs the service layer",
        "services_cycles_per_s": round(limit),
        "http_cycles_per_s": round(project),
        "ratio": round(limit / project, 2),
        "server_cpu_ms_per_cycle": round(statistics.median(server_ms), 2),
        "services_cpu_ms_per_cycle": round(statistics.median(services_ms), 2),
        "server_cpu_ms_per_round": [round(ms, 2) for ms in server_ms],
        **percentiles(latencies, "claim_ms_"),
        "double_claims": double_claims(since),
        "runs": args.repeat,
        **({"cycles_per_thread": count} if count else {"seconds_per_run": args.seconds}),
        **({"smoke": True} if args.smoke else {}),
    }
    save("http_path.json", results, smoke=args.smoke)
    return 1 if results["double_claims"] else 0


if __name__ == "__main__":
    sys.exit(main())
