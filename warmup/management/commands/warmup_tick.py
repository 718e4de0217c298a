"""Run the scheduler: one tick, or a loop of ticks until interrupted."""

from __future__ import annotations

import logging
import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from config.text import plural
from warmup.services.tick import TickReport, tick

logger = logging.getLogger("warmup.scheduler")


class Command(BaseCommand):
    help = (
        "Run one scheduler tick (expire leases, unlock due phases, assign content, raise "
        "escalations) and print its counts; with --loop, tick every --interval seconds until "
        "Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep ticking until stopped.")
        parser.add_argument(
            "--interval",
            type=float,
            default=5.0,
            metavar="N",
            help="Seconds between ticks with --loop (default 5).",
        )

    def handle(self, *args, loop, interval, **options):
        if interval <= 0:
            raise CommandError("--interval must be a positive number of seconds.")
        if not loop:
            try:
                report = tick()
            except Exception as exc:
                logger.exception("Scheduler tick failed")
                raise CommandError(f"The tick failed: {exc}") from exc
            self.stdout.write(f"Tick done: {report}.")
            return
        self._loop(interval, verbosity=options["verbosity"])

    def _loop(self, interval: float, *, verbosity: int) -> None:
        totals, ticks, failures = TickReport(), 0, 0
        restore = _stop_on_sigterm()
        self.stdout.write(f"Scheduler running: a tick every {interval:g} s; Ctrl-C to stop.")
        try:
            while True:
                _drop_broken_connections()
                ticks += 1
                try:
                    report = tick()
                except Exception:
                    failures += 1
                    logger.exception(
                        "Scheduler tick %d failed; trying again in %g s", ticks, interval
                    )
                else:
                    for key, value in report.as_dict().items():
                        setattr(totals, key, getattr(totals, key) + value)
                    if verbosity >= 2 or any(report.as_dict().values()):
                        self.stdout.write(f"{timezone.now():%H:%M:%S} tick {ticks}: {report}")
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
        finally:
            restore()
        failed = f" ({failures} failed)" if failures else ""
        self.stdout.write(
            f"Scheduler stopped after {plural(ticks, 'tick')}{failed}. Totals: {totals}."
        )


def _stop_on_sigterm():
    """Make SIGTERM end the loop like Ctrl-C does (a clean summary, no traceback); returns a
    function that puts the previous handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _drop_broken_connections() -> None:
    """Like a request boundary: drop connections that broke (a failed tick) or grew too old,
    so the next tick reconnects. A connection inside the caller's transaction is left alone."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
