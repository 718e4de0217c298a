from django.core.management.base import BaseCommand, CommandError

from warmup.errors import DomainError
from warmup.services.bots import bot_deactivate


class Command(BaseCommand):
    help = "Deactivate a bot: its requests get 403 from now on. Phases it holds expire normally."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The bot's name.")

    def handle(self, *args, name, **options):
        try:
            bot = bot_deactivate(name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Bot {bot.name!r} is deactivated.")
