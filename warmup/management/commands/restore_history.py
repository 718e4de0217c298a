"""manage.py restore_history FILE: load a month archived by `archive_history` back into its
table (PostgreSQL; warmup.services.history).

    manage.py restore_history history-archive/reviews_reviewlog_p2025_01.manifest.json
    manage.py restore_history history-archive/reviews_reviewlog_p2025_01.copy.gz

FILE is the manifest or the archive beside it. The file's sha256 and row count are checked
against the database's record of the archive (with --force, for a database that lost the
record, against the manifest, with a warning), its columns against the table's; a month that
does not match, that was not archived, or that the table already has, is refused and nothing
changes. Afterwards `check_warmup_integrity` walks the month's chains again.
Exit 0 when restored; 1 when refused; 2 on a usage error or SQLite.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from warmup.domain.errors import HistoryRefused
from warmup.services.history import history_restore


class Command(BaseCommand):
    help = "Load a month archived by archive_history back into its table (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="the archive's manifest or .copy.gz")
        parser.add_argument(
            "--force",
            action="store_true",
            help="disaster recovery: restore a month this database has no archive record of "
            "(the file is then checked against its manifest only)",
        )

    def handle(self, *args, file, force, **options):
        try:
            restored = history_restore(path=Path(file), force=force)
        except HistoryRefused as refused:
            code = 2 if refused.refusal in {"needs_postgres", "no_manifest"} else 1
            raise CommandError(refused.message, returncode=code) from None
        for warning in restored.warnings:
            self.stderr.write(warning)
        self.stdout.write(
            f"restored {restored.table} {restored.month}: {restored.rows} row(s) from "
            f"{restored.file} ({restored.seconds:.1f} s); run check_warmup_integrity to verify "
            "its chains again"
        )
