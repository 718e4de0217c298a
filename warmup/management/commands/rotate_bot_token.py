from django.core.management.base import BaseCommand, CommandError

from warmup.domain.errors import DomainError
from warmup.services.bots import bot_rotate_token


class Command(BaseCommand):
    help = "Give a bot a new API token (the old one stops working at once); prints it last."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The bot's name.")

    def handle(self, *args, name, **options):
        try:
            bot, token = bot_rotate_token(name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"New token for bot {bot.name!r}; the old token no longer works. "
            "Store it now: it is not shown again."
        )
        self.stdout.write(token)
