"""Make a user's review API token and print it, once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from warmup.domain.errors import InvalidInput
from warmup.services.tokens import api_token_create

USER_UNKNOWN = "No user named {name!r}."


class Command(BaseCommand):
    help = (
        "Make a user's review API token and print it as the last line of output. The key is "
        "shown only this once; the database keeps only its prefix and hash. A user has one "
        "token: revoke it on the admin's API tokens page to make another."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="The user whose token it is.")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(USER_UNKNOWN.format(name=username))
        try:
            _, key = api_token_create(user=user)
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Made the review API token of {user.get_username()!r}. Store it now; it is not "
            "shown again (send it as 'Authorization: Bearer <token>'):"
        )
        # Last line, alone and unstyled, so scripts can take it with `tail -n 1`.
        self.stdout.write(key)
