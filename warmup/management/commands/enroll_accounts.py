"""Enrol accounts from a CSV file (platform,username) on a warmup plan."""

from django.core.management.base import CommandError

from config.text import breakdown
from warmup.domain.errors import InvalidInput
from warmup.management.csv_import import CsvImportCommand
from warmup.models import WarmupPlan
from warmup.services.accounts import validate_plan
from warmup.services.imports import import_accounts, parse_accounts

UNKNOWN_PLAN = "Unknown plan {slug!r}; plans are: {choices}."


class Command(CsvImportCommand):
    help = (
        "Enrol accounts listed in a CSV file with the header 'platform,username'. Every row is "
        "validated first; by default nothing is imported if any row is invalid."
    )
    verb = "Enrolled"
    noun = "account"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--plan", default="default", metavar="SLUG", help="Plan to enrol on (default: default)."
        )

    def resolve(self, options) -> dict:
        slug = options["plan"]
        plan = WarmupPlan.objects.filter(slug=slug).first()
        if plan is None:
            choices = ", ".join(WarmupPlan.objects.values_list("slug", flat=True)) or "(none)"
            raise CommandError(UNKNOWN_PLAN.format(slug=slug, choices=choices))
        try:
            validate_plan(plan)
        except InvalidInput as exc:
            raise CommandError(f"{exc.message} Choose another with --plan.") from exc
        return {"plan": plan}

    def parse(self, text, context):
        return parse_accounts(text, plan=context["plan"])

    def import_rows(self, rows, context):
        return import_accounts(rows, plan=context["plan"])

    def describe_row(self, row) -> str:
        return f"{row.platform}:{row.username}"

    def breakdown(self, rows) -> str:
        return breakdown(row.platform for row in rows)

    def target(self, context) -> str:
        return f" on plan {context['plan'].slug!r}"
