"""The shape shared by the CSV import commands: parse and validate the whole file, preview,
then import the valid rows in one transaction and report counts."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from config.text import plural
from warmup.services.imports import CsvFormatError, ParseResult, read_text

INVALID_ROWS = (
    "{file}: {invalid} of {total} rows are invalid; nothing was imported "
    "(fix them, or pass --skip-invalid to import only the {valid}):"
)


class CsvImportCommand(BaseCommand):
    """Subclasses define `parse`, `import_rows`, `describe_row` and the summary wording."""

    verb = "Imported"  # "Enrolled", "Added"
    noun = "row"  # "account", "content item"

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.csv", help="UTF-8 CSV file with a header line.")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid rows and report the invalid ones as skipped "
            "(default: import nothing when any row is invalid).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and show what would be imported, without writing anything.",
        )

    # Hooks ---------------------------------------------------------------------------------

    def resolve(self, options) -> dict:
        """Resolve options into objects the parse and import need (CommandError if bad)."""
        return {}

    def parse(self, text: str, context: dict) -> ParseResult:
        raise NotImplementedError

    def import_rows(self, rows: list, context: dict) -> list:
        raise NotImplementedError

    def describe_row(self, row) -> str:
        raise NotImplementedError

    def breakdown(self, rows: list) -> str:
        """A short per-kind count of `rows` for the summary, e.g. 'instagram 2, x 1'."""
        return ""

    def target(self, context: dict) -> str:
        """Where the rows go, for the summary (e.g. " on plan 'default'")."""
        return ""

    # The flow ------------------------------------------------------------------------------

    def handle(self, *args, file, skip_invalid, dry_run, **options):
        context = self.resolve(options)
        try:
            result = self.parse(read_text(file), context)
        except CsvFormatError as exc:
            raise CommandError(f"{file}: {exc} Nothing was imported.") from None

        self.stdout.write(
            f"Read {file}: {plural(result.total, 'row')}, {len(result.rows)} valid, "
            f"{len(result.errors)} invalid."
        )
        if result.errors and not skip_invalid:
            lines = [
                INVALID_ROWS.format(
                    file=file,
                    invalid=len(result.errors),
                    total=result.total,
                    valid=plural(len(result.rows), "valid row"),
                )
            ]
            lines += [f"  {error}" for error in result.errors]
            raise CommandError("\n".join(lines))
        for error in result.errors:
            self.stderr.write(f"skipped {error}")

        what = plural(len(result.rows), self.noun) + self.target(context)
        detail = self.breakdown(result.rows)
        what += f" ({detail})" if detail else ""
        if dry_run:
            for row in result.rows:
                self.stdout.write(f"  line {row.line}: {self.describe_row(row)}")
            skipped = f"; {plural(len(result.errors), 'invalid row')} would be skipped"
            self.stdout.write(
                f"Dry run: would have {self.verb.lower()} {what}"
                f"{skipped if result.errors else ''}; nothing was written."
            )
            return
        self.import_rows(result.rows, context)
        skipped = f"; skipped {plural(len(result.errors), 'invalid row')}"
        self.stdout.write(
            self.style.SUCCESS(f"{self.verb} {what}{skipped if result.errors else ''}.")
        )
