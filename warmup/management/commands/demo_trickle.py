"""Keep a running demo moving: enrol a few fresh accounts on the fast plan every so often, so
the simulated bots never run out of work and the review queue keeps filling."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from config.text import plural
from tools import demo


class Command(BaseCommand):
    help = "Enrol N fresh fast-plan demo accounts every S seconds, until stopped (for run_demo)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=float,
            default=60.0,
            metavar="S",
            help="seconds between enrolments (default 60)",
        )
        parser.add_argument(
            "--accounts", type=int, default=3, metavar="N", help="accounts each time (default 3)"
        )
        parser.add_argument("--once", action="store_true", help="enrol once and stop")

    def handle(self, *args, every, accounts, once, **options):
        if every <= 0 or accounts < 1:
            raise CommandError("--every must be above 0 and --accounts at least 1.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
        while True:
            fresh = demo.enrol_fresh(accounts)
            names = ", ".join(str(account) for account in fresh)
            self.stdout.write(f"Enrolled {plural(len(fresh), 'fresh account')}: {names}")
            if once or stop.wait(every):
                return
