from django.core.management.base import BaseCommand, CommandError

from config.text import plural
from warmup.domain.choices import FailureDecision
from warmup.domain.errors import DomainError
from warmup.services.bots import bot_deactivate


class Command(BaseCommand):
    help = (
        "Deactivate a bot: its requests get 403 from now on, and the phases it holds end at once "
        "as if their leases had expired (retried or sent to review by policy)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The bot's name.")

    def handle(self, *args, name, **options):
        try:
            done = bot_deactivate(name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Bot {done.bot.name!r} is deactivated.")
        if done.leases_ended:
            decisions = [outcome.decision for outcome in done.leases_ended]
            review = decisions.count(FailureDecision.REVIEW_REQUIRED)
            self.stdout.write(
                f"Ended {plural(len(decisions), 'lease')} it held: "
                f"{len(decisions) - review} to be retried, {review} sent to review."
            )
