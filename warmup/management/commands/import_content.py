"""Add captions and media to the content pool from a CSV file."""

from config.text import breakdown
from warmup.management.csv_import import CsvImportCommand
from warmup.services.imports import import_content, parse_content


class Command(CsvImportCommand):
    help = (
        "Add content items from a CSV file with the header 'phase_type,title,body,media_url' "
        "(media_url is optional). Every row is validated first; by default nothing is imported "
        "if any row is invalid."
    )
    verb = "Added"
    noun = "content item"

    def parse(self, text, context):
        return parse_content(text)

    def import_rows(self, rows, context):
        return import_content(rows)

    def describe_row(self, row) -> str:
        return f"{row.item.phase_type}: {row.item.title}"

    def breakdown(self, rows) -> str:
        return breakdown(row.item.phase_type for row in rows)
