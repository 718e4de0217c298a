"""What the threaded benchmarks share: threads let go at once, a failure in any of them raised
again in the caller (a thread's own would be lost), and latency percentiles."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable


class CycleFailed(Exception):
    """A cycle that cannot go on (nothing left to claim, an unexpected answer): the run stops."""


def together(work: Callable, args: Iterable) -> float:
    """Run `work(arg)` in one thread per item of `args`, all let go at once; the seconds from
    their start to the last one's end. A CycleFailed in any thread ends the run with its
    message; any other exception is raised again here."""
    args = list(args)
    barrier = threading.Barrier(len(args) + 1)
    errors: list[BaseException] = []

    def run(arg):
        barrier.wait()
        try:
            work(arg)
        except Exception as exc:
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        if isinstance(errors[0], CycleFailed):
            raise SystemExit(str(errors[0]))
        raise errors[0]
    return elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def percentiles(latencies: list[float], prefix: str = "") -> dict:
    """p50, p95 and p99 of `latencies`, rounded, named `{prefix}p50` and so on."""
    return {f"{prefix}p{p}": round(percentile(latencies, p / 100), 2) for p in (50, 95, 99)}
