"""Check the stored data against the promises the services keep: review items have the log
row that put them in review, resolution rows are complete, leases only while in progress, one
active phase per account, retry counts that agree with the attempts, no attempt left open, and
every ReviewLog hash chain intact and still holding what the signed checkpoints saw (see
`warmup.selectors.integrity` for each rule and its cost). `--checkpoint N` or `--checkpoint
'<JSON line>'` (repeatable) checks the log against that checkpoint too, e.g. one copied from
the scheduler's `review_log_checkpoint` log line: a deleted or rewritten checkpoint shows.

Side effects: none (read-only). Exit status: 0 with a one-line summary when nothing is wrong;
1 with one line per violation; 2 for a usage error.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.replica import read_heavy
from warmup.domain.checkpoints import BadCheckpointLine, Statement, parse_line
from warmup.domain.errors import (
    CHECKPOINT_BAD_VALUE,
    CHECKPOINT_GIVEN_NEEDS_KEY,
    INTEGRITY_CLEAN,
    INTEGRITY_FOUND,
)
from warmup.selectors.integrity import CHECKS, check_integrity, checkpoint_notes, counted


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
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="NUMBER_OR_JSON",
            help=(
                "Also check the log against this checkpoint: its number, or its JSON line as "
                "the scheduler logged it (repeat for several)."
            ),
        )

    def handle(self, *args, check=None, checkpoint=(), **options):
        given = [_given(value) for value in checkpoint]
        if given and not settings.REVIEW_LOG_CHECKPOINT_KEY:
            raise CommandError(CHECKPOINT_GIVEN_NEEDS_KEY, returncode=2)
        # On the read replica when there is one (config.replica): the checker reads every row.
        violations, source = read_heavy(lambda: check_integrity(only=check, checkpoints=given))
        if source.replica:
            self.stderr.write(f"Read from the replica, {source.lag:.0f} s behind the primary.")
        for violation in violations:
            self.stdout.write(str(violation))
        if not check or "checkpoint" in check:
            notes, _ = read_heavy(lambda: checkpoint_notes(checked=given))
            for note in notes:
                self.stderr.write(note)
        if violations:
            raise CommandError(INTEGRITY_FOUND.format(count=len(violations)), returncode=1)
        (phases, rows), _ = read_heavy(counted)
        self.stdout.write(INTEGRITY_CLEAN.format(phases=phases, rows=rows))


def _given(value: str) -> int | Statement:
    """A `--checkpoint` value: a checkpoint's number, or the statement in its JSON line."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        return parse_line(text)
    except BadCheckpointLine as exc:
        raise CommandError(
            CHECKPOINT_BAD_VALUE.format(value=value[:80], why=exc), returncode=2
        ) from None
