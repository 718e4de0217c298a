"""manage.py archive_history: archive whole months of the attempts and the review log to
compressed files and drop them from the database (PostgreSQL; warmup.services.history).

    manage.py archive_history --before 2025-12 --dry-run   # what would go, writes nothing
    manage.py archive_history --before 2025-12 --to /backups/history

Every month of both tables entirely before --before goes: each to <partition>.copy.gz (COPY,
gzip) and <partition>.manifest.json (rows, sha256, the review log chains' last hashes). Months
inside the retention (HISTORY_RETENTION_MONTHS) are refused unless --force. Exit 0 when done
(or nothing to do); 1 when refused (another archive or restore running, an item still in
review, a file already there: nothing written); 2 on a usage error or SQLite.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from config.partitions import Month
from warmup.domain.errors import HistoryRefused
from warmup.services.history import history_archive

USAGE_REFUSALS = {"needs_postgres", "current_month", "retention"}


class Command(BaseCommand):
    help = "Archive whole months of attempts and review log to files and drop them (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--before", required=True, metavar="YYYY-MM", help="archive the months before this one"
        )
        parser.add_argument(
            "--to",
            default="history-archive",
            metavar="DIR",
            help="where the files go (default: ./history-archive, made if missing)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would go; write nothing"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="archive months inside the retention (HISTORY_RETENTION_MONTHS) too",
        )

    def handle(self, *args, before, to, dry_run, force, **options):
        try:
            month = Month.parse(before)
        except ValueError as error:
            raise CommandError(f"--before: {error}.", returncode=2) from None

        def archived(entry):  # as each month commits: a later refusal does not hide it
            chains = f", {entry.chains} chain(s)" if entry.chains else ""
            self.stdout.write(
                f"archived {entry.partition}: {entry.rows} row(s){chains} to {entry.file} "
                f"(sha256 {entry.sha256[:12]}); partition dropped ({entry.seconds:.1f} s)"
            )

        try:
            done = history_archive(
                before=month,
                to=Path(to),
                now=timezone.now(),
                force=force,
                dry_run=dry_run,
                on_archived=archived,
            )
        except HistoryRefused as refused:
            code = 2 if refused.refusal in USAGE_REFUSALS else 1
            raise CommandError(refused.message, returncode=code) from None
        if not done:
            self.stdout.write(f"Nothing to archive: no partition of a month before {month}.")
            return
        if dry_run:
            for entry in done:
                self.stdout.write(
                    f"would archive {entry.partition}: {entry.rows} row(s) "
                    f"to {Path(to) / (entry.partition + '.copy.gz')}"
                )
        verb = "would archive" if dry_run else "archived"
        rows = sum(entry.rows for entry in done)
        self.stdout.write(f"{verb} {len(done)} month partition(s), {rows} row(s)")
