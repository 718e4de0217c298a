"""Check the stored data against the promises the services keep: review items have the log
row that put them in review, resolution rows are complete, leases only while in progress, one
active phase per account, retry counts that agree with the attempts, no attempt left open, and
every ReviewLog hash chain intact (see `warmup.selectors.integrity` for each rule and its cost).

Side effects: none (read-only). Exit status: 0 with a one-line summary when nothing is wrong;
1 with one line per violation; 2 for a usage error.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from config.replica import read_heavy
from warmup.domain.errors import INTEGRITY_CLEAN, INTEGRITY_FOUND
from warmup.selectors.integrity import CHECKS, check_integrity, counted


class Command(BaseCommand):
    help = (
        "Check phases, attempts and the review log for broken promises; "
        "exit 1 and print each violation if there are any."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="append",
            choices=list(CHECKS),
            help="Run only this check (repeat for several); all checks by default.",
        )

    def handle(self, *args, check=None, **options):
        # On the read replica when there is one (config.replica): the checker reads every row.
        violations, source = read_heavy(lambda: check_integrity(only=check))
        if source.replica:
            self.stderr.write(f"Read from the replica, {source.lag:.0f} s behind the primary.")
        for violation in violations:
            self.stdout.write(str(violation))
        if violations:
            raise CommandError(INTEGRITY_FOUND.format(count=len(violations)), returncode=1)
        (phases, rows), _ = read_heavy(counted)
        self.stdout.write(INTEGRITY_CLEAN.format(phases=phases, rows=rows))
