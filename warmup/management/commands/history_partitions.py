"""manage.py history_partitions: the monthly partitions of the attempts and the review log
(config/partitions.py) on PostgreSQL.

    manage.py history_partitions              # make the coming months' partitions, list them all
    manage.py history_partitions --ahead 6    # six months ahead instead of three
    manage.py history_partitions --adopt      # move rows out of the DEFAULT partitions into
                                              # partitions of their months

The scheduler makes the coming months' partitions on its own; this is for an operator (before
a long downtime of the scheduler, or after `check_warmup_integrity` reported rows in a DEFAULT
partition). Exit 0 when done; 2 on SQLite (nothing is partitioned there) or a bad argument.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from config.partitions import (
    HISTORY_TABLES,
    MONTHS_AHEAD,
    adopt_default,
    default_name,
    default_rows,
    ensure_partitions,
    listed,
)


class Command(BaseCommand):
    help = "Make the coming months' history partitions (PostgreSQL), and list them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--ahead",
            type=int,
            default=MONTHS_AHEAD,
            help=f"months after this one to have partitions for (default {MONTHS_AHEAD})",
        )
        parser.add_argument(
            "--adopt",
            action="store_true",
            help="move the rows of each DEFAULT partition into partitions of their months",
        )

    def handle(self, *args, ahead, adopt, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Only PostgreSQL partitions its history tables.", returncode=2)
        if not 0 <= ahead <= 120:
            raise CommandError("--ahead: a number of months from 0 to 120.", returncode=2)
        with transaction.atomic():
            made = ensure_partitions(connection, now=timezone.now(), ahead=ahead)
            if adopt:
                for table in HISTORY_TABLES:
                    made += adopt_default(connection, table)
        for name in made:
            self.stdout.write(f"made {name}")
        strays = default_rows(connection)
        for table, partitions in listed(connection).items():
            monthly = [name for name, _ in partitions if name != default_name(table)]
            stray = strays.get(table, 0)
            span = f"{monthly[0][-7:]} to {monthly[-1][-7:]}".replace("_", "-") if monthly else "-"
            self.stdout.write(
                f"{table}: {len(monthly)} monthly partitions ({span}), "
                f"{stray} row(s) in its DEFAULT partition"
            )
