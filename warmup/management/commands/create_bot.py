"""Create a bot and print its API token, once."""

from django.core.management.base import BaseCommand, CommandError

from warmup.domain.errors import InvalidInput
from warmup.services.bots import bot_create


class Command(BaseCommand):
    help = (
        "Create a bot and print its API token as the last line of output. The token is shown "
        "only this once; the database keeps only its hash."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="A unique name for the bot, e.g. phone-farm-01.")

    def handle(self, *args, name, **options):
        try:
            bot, token = bot_create(name=name)
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Created bot {bot.name!r}. Store its token now; it is not shown again "
            "(send it as 'Authorization: Bearer <token>'):"
        )
        # Last line, alone and unstyled, so scripts can take it with `tail -n 1`.
        self.stdout.write(token)
