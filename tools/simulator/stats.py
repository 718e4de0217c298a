"""What the simulated bots did: counters every bot thread adds to, and the lines that show them
(the live progress line and the final summary)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class SimulationResult:
    """How a simulation ended: the final counters, how long it ran, why it stopped."""

    stats: dict
    elapsed: float
    reason: str  # a key of stats.REASONS
    fatal: list[str] = field(default_factory=list)


# --- Shared counters -------------------------------------------------------------------


class Stats:
    """Counters every bot thread adds to; `snapshot()` reads them consistently."""

    FIELDS = (
        "claims",
        "completions",
        "failures",
        "escalations",
        "retries",
        "hangs",
        "heartbeats",
        "lease_lost",
        "throttled",
        "unavailable",
        "errors",
        "connection_errors",
        "idle",
        "abandoned",
    )

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = Counter({name: 0 for name in self.FIELDS})
        self._failures_by_category: Counter[str] = Counter()
        self._errors_by_kind: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def failure(self, category: str, *, escalated: bool) -> None:
        with self._lock:
            self._counts["failures"] += 1
            self._counts["escalations" if escalated else "retries"] += 1
            self._failures_by_category[category] += 1

    def error(self, kind: str) -> None:
        with self._lock:
            self._counts["errors"] += 1
            self._errors_by_kind[kind] += 1

    def snapshot(self) -> dict:
        with self._lock:
            data = dict(self._counts)
            data["failures_by_category"] = dict(self._failures_by_category.most_common())
            data["errors_by_kind"] = dict(self._errors_by_kind.most_common())
            return data


# --- Reporting -------------------------------------------------------------------------

REASONS = {
    "duration": "the duration ran out",
    "cycles": "every bot made its claims",
    "interrupted": "interrupted (Ctrl-C)",
    "terminated": "terminated (SIGTERM)",
    "stopped": "every bot stopped",
}


def format_progress(stats: dict, elapsed: float) -> str:
    """One line for the live progress display."""
    return (
        f"[{elapsed:5.0f}s] claims {stats['claims']} | completed {stats['completions']} | "
        f"failed {stats['failures']} | escalated {stats['escalations']} | "
        f"hung {stats['hangs']} | 409 {stats['lease_lost']} | 429 {stats['throttled']} | "
        f"errors {stats['errors']} | unreachable {stats['connection_errors']} | "
        f"idle {stats['idle']}"
    )


def _breakdown(counts: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items())


SUMMARY_ROWS = (
    # (label, stats key, note)
    ("claims", "claims", "phases claimed (200)"),
    ("completions", "completions", ""),
    ("failures", "failures", ""),
    ("escalations", "escalations", "failures answered review_required"),
    ("retries scheduled", "retries", "failures answered retry_scheduled"),
    ("hangs", "hangs", "claimed and never reported: the lease will expire"),
    ("heartbeats", "heartbeats", ""),
    ("409 lease lost", "lease_lost", ""),
    ("429 throttled", "throttled", "waited Retry-After"),
    ("503 unavailable", "unavailable", "waited Retry-After, then the same request again"),
    ("other HTTP errors", "errors", ""),
    ("connection errors", "connection_errors", "server unreachable; retried"),
    ("abandoned reports", "abandoned", "could not be delivered: the lease will expire"),
    ("idle polls (204)", "idle", "nothing ready to claim"),
)


def format_summary(result: SimulationResult, *, bots: int, url: str) -> str:
    """The final report, one counter per line: `  <label>  <number>  <note>`."""
    stats = result.stats
    lines = [
        f"Simulated {bots} bot{'s' if bots != 1 else ''} against {url} for "
        f"{result.elapsed:.1f} s; stopped because {REASONS[result.reason]}."
    ]
    width = max(len(label) for label, _, _ in SUMMARY_ROWS)
    for label, key, note in SUMMARY_ROWS:
        if key == "failures" and stats["failures_by_category"]:
            note = _breakdown(stats["failures_by_category"])
        if key == "errors" and stats["errors_by_kind"]:
            note = _breakdown(stats["errors_by_kind"])
        lines.append(f"  {label:<{width}}  {stats[key]:>6}  {note}".rstrip())
    lines.extend(f"  stopped early: {message}" for message in result.fatal)
    return "\n".join(lines)
