"""A fleet of simulated bots: one thread per bot, stopped by a duration, a number of claims per
bot, Ctrl-C or `stop()`; progress while it runs and a result at the end.

Used by `manage.py simulate_bots` and by `make demo`.
"""

from __future__ import annotations

import threading
import time

from .client import SimulatedBot
from .config import SimulationConfig
from .stats import SimulationResult, Stats


class Simulation:
    """Run one thread per bot until the duration passes, every bot made its cycles, or stop()."""

    def __init__(self, *, bots: list[tuple[str, str]], config: SimulationConfig):
        self.config = config
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.bots = [
            SimulatedBot(
                name=name,
                token=token,
                config=config,
                stats=self.stats,
                stop=self.stop_event,
                index=index,
                elapsed=self.elapsed,
            )
            for index, (name, token) in enumerate(bots)
        ]
        self.threads: list[threading.Thread] = []
        self.started_at: float | None = None
        self.stop_reason: str | None = None

    def elapsed(self) -> float:
        return 0.0 if self.started_at is None else time.monotonic() - self.started_at

    def start(self) -> None:
        self.started_at = time.monotonic()
        for bot in self.bots:
            thread = threading.Thread(target=bot.run, name=f"sim-{bot.name}", daemon=True)
            self.threads.append(thread)
            thread.start()

    def stop(self, reason: str = "stopped") -> None:
        """Ask every bot to stop (safe from a signal handler); `reason` is a key of REASONS."""
        self.stop_reason = self.stop_reason or reason
        self.stop_event.set()

    def running(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def wait(self, *, on_progress=None, interval: float = 1.0) -> SimulationResult:
        """Block until the end; call on_progress(snapshot, elapsed) every `interval` seconds.

        Ctrl-C (KeyboardInterrupt) stops the bots; they deliver the report in hand and the
        result is returned as usual. A second Ctrl-C stops waiting for them.
        """
        deadline = None
        if self.config.duration is not None:
            deadline = self.started_at + self.config.duration
        next_progress = time.monotonic() + interval
        reason = "stopped"
        try:
            while self.running() and not self.stop_event.is_set():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    reason = "duration"
                    break
                if on_progress is not None and now >= next_progress:
                    on_progress(self.stats.snapshot(), self.elapsed())
                    next_progress = now + interval
                self.stop_event.wait(0.05)
            else:
                if self.config.cycles is not None and all(
                    bot.claims >= self.config.cycles for bot in self.bots
                ):
                    reason = "cycles"
        except KeyboardInterrupt:
            reason = "interrupted"
        self.stop_event.set()
        try:
            self._join(grace=self.config.timeout + 1)
        except KeyboardInterrupt:
            reason = "interrupted"  # a second Ctrl-C: stop waiting for in-flight requests
        return SimulationResult(
            stats=self.stats.snapshot(),
            elapsed=self.elapsed(),
            reason=self.stop_reason or reason,
            fatal=[bot.fatal for bot in self.bots if bot.fatal],
        )

    def _join(self, *, grace: float) -> None:
        until = time.monotonic() + grace
        for thread in self.threads:
            thread.join(max(0.0, until - time.monotonic()))

    def run(self, *, on_progress=None, interval: float = 1.0) -> SimulationResult:
        self.start()
        return self.wait(on_progress=on_progress, interval=interval)
