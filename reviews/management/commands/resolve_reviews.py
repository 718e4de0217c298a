"""manage.py resolve_reviews: resolve review items in bulk, or undo a bulk run.

Select with the queue's filters (warmup.selectors.filters: the review API's names and values),
preview with --dry-run, then resolve in batches of --batch-size, each batch one transaction through
warmup.services.resolutions (the one path of every resolution). Every run has a batch id, printed
first and written on each of its ReviewLog rows; --undo BATCH puts back in review what that run left
where it was.

Exit codes: 0 every selected item changed (or nothing was selected); 1 some did not (listed);
2 a usage error, an unknown reason code or a --user who may not resolve (nothing changed);
130 interrupted (what was done stays done; run the same command again to finish).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from collections import Counter, defaultdict

import structlog
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from tqdm import tqdm

from config import database
from config.text import duration_display, plural
from reviews.models import ReviewItem
from reviews.permissions import can_resolve_reviews
from warmup.domain.actors import Actor
from warmup.domain.choices import ReasonCode, ResolutionMethod
from warmup.domain.errors import DomainError, refusal_words
from warmup.selectors.filters import ReviewQueueFilter
from warmup.selectors.queue import review_selection
from warmup.services import resolutions

USAGE = 2
SOME_NOT_CHANGED = 1
INTERRUPTED = 130
SHOWN_IN_DRY_RUN = 50  # rows of the preview table before "and N more"
IDS_PER_REASON = 20  # ids listed per reason in the summary

USER_UNKNOWN = "No user named {name!r}; --user names the reviewer the log will show."
USER_INACTIVE = "User {name!r} is deactivated."
USER_CANNOT_RESOLVE = (
    "User {name!r} may not act on the review queue (needs the resolve permission, e.g. the "
    "Reviewers group); nothing was changed."
)
NEEDS = "--{option} is required with --action (nothing was changed)."
UNDO_NEEDS_NOTE = "--note is required with --undo (nothing was changed)."
UNKNOWN_BATCH = "No run with batch {batch} resolved anything; nothing to undo."
NO_SELECTION = (
    "Say which items: a selection option (--category, --ids, ...), or --all for the whole "
    "queue. Nothing was changed."
)
# The selection flags: the queue's filters (warmup.selectors.filters), --name-with-dashes for
# `name`, each taking the filter's values as the review API does; their metavars.
SELECTORS = {
    "category": "CATEGORY",
    "signature": "SIGNATURE",
    "phase_type": "PHASE_TYPE",
    "platform": "PLATFORM",
    "waiting": "AGE",
    "escalation_level": "N",
    "assignee": "me|none|USERNAME",
    "bot": "NAME",
    "account_status": "STATUS",
    "account": "PLATFORM:USERNAME",
    "ids": "ID,ID,...",
}
BAD_SELECTION = "--{option}: {error} Nothing was changed."
EMPTY_SELECTION = "--{option} needs a value (the whole queue is --all). Nothing was changed."
# A batch that raised rolled back as a whole. Busy or down (config.database): the same run a
# moment later will most likely go through; anything else will fail the same way until fixed.
BATCH_FAILED_RETRYABLE = (
    "its batch failed and was rolled back: the database was busy or unavailable ({why}); "
    "retryable: run the same command again in {seconds} s"
)
BATCH_FAILED = "its batch failed and was rolled back ({why}); not retryable as it is"
UNDO_ALONE = (
    "--undo takes no --action, --reason or selection options: it undoes what the batch did."
)


def positive(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 100_000:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from 1 to 100000")
    return int(value)


class Command(BaseCommand):
    help = (
        "Resolve review items in bulk (resume, retry, complete or skip), in batches, with a "
        "dry run; or undo an earlier run with --undo BATCH."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = (
            "Exit codes: 0 all selected items changed or none selected; 1 some not changed "
            "(listed); 2 usage error, unknown reason code or a --user who may not resolve "
            "(nothing changed); 130 interrupted (rerun to finish)."
        )
        return parser

    def add_arguments(self, parser):
        pick = parser.add_argument_group("which items (all of these narrow the queue)")
        for name, metavar in SELECTORS.items():
            spec = ReviewQueueFilter.base_filters[name]
            flag = "--" + name.replace("_", "-")
            more = {"action": "append"} if name == "category" else {}
            aliases = ["--older-than"] if name == "waiting" else []
            words = spec.extra.get("help_text") or spec.label
            if name == "ids":
                words += " Or - to read them from stdin."
            pick.add_argument(
                flag, *aliases, dest=name, metavar=metavar, help=words.replace("`", ""), **more
            )
        pick.add_argument(
            "--all",
            action="store_true",
            help="the whole queue (required when no other selection is given)",
        )
        pick.add_argument("--limit", type=positive, metavar="N", help="at most N items")

        act = parser.add_argument_group("what to do")
        act.add_argument("--action", choices=ResolutionMethod.values)
        act.add_argument(
            "--reason", metavar="REASON_CODE", help="one of: " + ", ".join(ReasonCode.values)
        )
        act.add_argument("--note", help="what was done, for the review log (required)")
        act.add_argument(
            "--user",
            required=True,
            metavar="USERNAME",
            help="the reviewer acting (must be allowed to resolve)",
        )
        act.add_argument(
            "--undo",
            type=uuid.UUID,
            metavar="BATCH",
            help="undo the run with this batch id instead",
        )
        act.add_argument(
            "--dry-run", action="store_true", help="show what would change; change nothing"
        )
        act.add_argument(
            "--batch-size",
            type=positive,
            default=500,
            metavar="N",
            help="items per transaction (default 500)",
        )

    # --- The flow --------------------------------------------------------------------------

    def handle(self, *args, **options):
        actor = Actor.for_user(self.resolve_user(options["user"]))
        if options["undo"]:
            self.check_undo(options)
            ids, missing = resolutions.batch_items(options["undo"]), []
            if not ids:
                raise CommandError(UNKNOWN_BATCH.format(batch=options["undo"]), returncode=USAGE)
        else:
            self.check_action(options)
            ids, missing = self.select(options)
        if options["limit"]:
            ids = ids[: options["limit"]]

        batch = uuid.uuid4()
        self.stdout.write(f"Batch {batch}")
        what = f"undo batch {options['undo']}" if options["undo"] else options["action"]
        if not ids:
            self.stdout.write("Nothing selected; nothing changed.")
            self.report_missing(missing)
            return
        if options["dry_run"]:
            self.preview(ids, what)
            self.report_missing(missing)
            return
        # Each status change this run makes is logged with its batch and its reviewer.
        with structlog.contextvars.bound_contextvars(batch=str(batch), user=options["user"]):
            self.run(ids, missing, batch=batch, actor=actor, options=options, what=what)

    def resolve_user(self, username: str):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(USER_UNKNOWN.format(name=username), returncode=USAGE)
        if not user.is_active:
            raise CommandError(USER_INACTIVE.format(name=username), returncode=USAGE)
        if not can_resolve_reviews(user):
            raise CommandError(USER_CANNOT_RESOLVE.format(name=username), returncode=USAGE)
        return user

    def report_missing(self, missing: list[int]) -> None:
        """Named --ids that are not in review: listed, and the run exits 1."""
        if missing:
            shown = ", ".join(str(pk) for pk in missing[:IDS_PER_REASON])
            self.stdout.write(f"  not changed, not in review: {shown}")
            raise CommandError(
                f"{plural(len(missing), 'item')} not in review (listed above).",
                returncode=SOME_NOT_CHANGED,
            )

    def check_action(self, options) -> None:
        if not options["all"] and not any(options[o] not in (None, []) for o in SELECTORS):
            raise CommandError(NO_SELECTION, returncode=USAGE)
        for option in ("action", "reason", "note"):
            if not options[option]:
                raise CommandError(NEEDS.format(option=option), returncode=USAGE)
        try:
            resolutions.validate_resolution(
                method=options["action"], reason_code=options["reason"], note=options["note"]
            )
        except DomainError as exc:
            raise CommandError(f"{exc.message} Nothing was changed.", returncode=USAGE) from None

    def check_undo(self, options) -> None:
        chosen = [o for o in ("action", "reason", *SELECTORS) if options[o] not in (None, [])]
        if chosen or options["all"]:
            raise CommandError(UNDO_ALONE, returncode=USAGE)
        if not (options["note"] or "").strip():
            raise CommandError(UNDO_NEEDS_NOTE, returncode=USAGE)

    def select(self, options) -> tuple[list[int], list[int]]:
        """The selected items in queue order, and the named --ids that are not in review. The
        flags are the queue FilterSet's data: a value it refuses is a usage error."""
        data = MultiValueDict()
        for name in SELECTORS:
            value = options[name]
            if value in (None, []):
                continue
            values = value if isinstance(value, list) else [value]
            if any(not one.strip() for one in values):
                option = name.replace("_", "-")
                raise CommandError(EMPTY_SELECTION.format(option=option), returncode=USAGE)
            data.setlist(name, values)
        if data.get("ids", "").strip() == "-":
            data["ids"] = ",".join(part for part in re.split(r"[\s,]+", sys.stdin.read()) if part)
        me = get_user_model().objects.filter(username=options["user"]).first()
        selection = review_selection(data, user=me)
        if not selection.is_valid():
            name, errors = next(iter(selection.errors.items()))
            raise CommandError(
                BAD_SELECTION.format(option=name.replace("_", "-"), error=" ".join(errors)),
                returncode=USAGE,
            )
        selected = list(selection.qs.values_list("pk", flat=True))
        chosen = set(selected)
        named = selection.form.cleaned_data.get("ids") or []
        return selected, [pk for pk in named if pk is not None and pk not in chosen]

    def preview(self, ids: list[int], what: str) -> None:
        """The items a run would touch, as a table, and their count by category."""
        now = timezone.now()
        items = ReviewItem.objects.select_related("account").filter(pk__in=ids).order_by("pk")
        self.stdout.write(
            f"{'id':>8}  {'account':<28} {'phase':<16} {'failure':<20} {'status':<16} in review"
        )
        counts = Counter()
        for n, item in enumerate(items):
            category = item.last_failure_category or "held"
            counts[category] += 1
            if n >= SHOWN_IN_DRY_RUN:
                continue
            waited = item.review_required_since
            self.stdout.write(
                f"{item.pk:>8}  {str(item.account)[:28]:<28} {item.phase_type[:16]:<16} "
                f"{category[:20]:<20} {item.status[:16]:<16} "
                f"{duration_display(now - waited) if waited else '-'}"
            )
        if len(ids) > SHOWN_IN_DRY_RUN:
            self.stdout.write(f"... and {len(ids) - SHOWN_IN_DRY_RUN} more")
        self.stdout.write("By category: " + ", ".join(f"{c} {n}" for c, n in counts.most_common()))
        self.stdout.write(f"Dry run: would {what} {plural(len(ids), 'item')}; nothing was changed.")

    def run(self, ids, missing, *, batch, actor, options, what: str) -> None:
        size = options["batch_size"]
        changed, unchanged = [], {pk: "not in review" for pk in missing}
        started = time.monotonic()
        bar = tqdm(total=len(ids), unit="item", file=sys.stderr, disable=not self.stdout.isatty())
        try:
            for start in range(0, len(ids), size):
                chunk = ids[start : start + size]
                try:
                    result = self.one_batch(chunk, batch=batch, actor=actor, options=options)
                except (DomainError, DatabaseError) as exc:
                    # The batch rolled back as a whole: say so, and whether the same batch a
                    # moment later should go through (the definition the 503s answer by), and
                    # go on with the next one.
                    why = getattr(exc, "message", None) or (str(exc).splitlines() or [""])[0]
                    why = why or type(exc).__name__
                    failed = (
                        BATCH_FAILED_RETRYABLE.format(why=why, seconds=database.RETRY_AFTER_SECONDS)
                        if database.is_retryable(exc)
                        else BATCH_FAILED.format(why=why)
                    )
                    result = resolutions.BatchResult(unchanged={pk: failed for pk in chunk})
                changed += result.changed
                unchanged.update(
                    {
                        pk: why if isinstance(why, str) else refusal_words(why)
                        for pk, why in result.unchanged.items()
                    }
                )
                bar.update(len(chunk))
                if bar.disable:
                    self.stdout.write(
                        f"{start + len(chunk)}/{len(ids)} done: {len(changed)} changed, "
                        f"{len(unchanged)} not changed"
                    )
        except KeyboardInterrupt:
            bar.close()
            self.summary(changed, unchanged, started, what)
            self.stderr.write(
                "Interrupted. The batches above are done; the one in progress was rolled "
                "back. Run the same command again to finish."
            )
            sys.exit(INTERRUPTED)
        bar.close()
        self.summary(changed, unchanged, started, what)
        if unchanged:
            raise CommandError(
                f"{plural(len(unchanged), 'item')} not changed (listed above).",
                returncode=SOME_NOT_CHANGED,
            )

    def one_batch(self, chunk, *, batch, actor, options) -> resolutions.BatchResult:
        if options["undo"]:
            return resolutions.batch_undo(
                undo=options["undo"],
                phase_ids=chunk,
                note=options["note"],
                actor=actor,
                batch=batch,
            )
        return resolutions.reviews_resolve(
            phase_ids=chunk,
            method=options["action"],
            reason_code=options["reason"],
            note=options["note"],
            actor=actor,
            batch=batch,
        )

    def summary(self, changed, unchanged, started, what) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        self.stdout.write(
            f"Done: {what}: {plural(len(changed), 'item')} changed, "
            f"{len(unchanged)} not changed, in {elapsed:.1f} s "
            f"({len(changed) / elapsed:.0f} items/s)."
        )
        by_reason = defaultdict(list)
        for pk, reason in unchanged.items():
            by_reason[reason].append(pk)
        for reason, pks in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
            shown = ", ".join(str(pk) for pk in sorted(pks)[:IDS_PER_REASON])
            more = f" and {len(pks) - IDS_PER_REASON} more" if len(pks) > IDS_PER_REASON else ""
            self.stdout.write(f"  not changed, {reason}: {shown}{more}")
