"""Bot authentication: `Authorization: Bearer <token>`, as printed by `create_bot`."""

import structlog
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from config.api.authentication import header_credential
from warmup.services.bots import bot_authenticate, bot_token_cache_key, bot_touch

INVALID_TOKEN = "Invalid bot token."
BOT_INACTIVE = "This bot is deactivated."
MALFORMED_HEADER = "Malformed Authorization header; expected 'Bearer <token>'."


class BotInactive(exceptions.PermissionDenied):
    default_detail = BOT_INACTIVE
    default_code = "bot_inactive"


class BotTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"
    # The remembered token's cache entry, when read ahead with the address's failure count
    # (config.api.throttling.LimitFailedAuthentication): {key: bot} if it was there.
    read_ahead: dict | None = None

    def credential(self, request) -> str | None:
        return header_credential(
            request, (self.keyword.lower().encode(),), malformed=MALFORMED_HEADER
        )

    def cache_keys(self, request) -> list[str]:
        """The cache entry `authenticate` reads: the token's, if it is of the issued shape."""
        try:
            token = self.credential(request)
        except exceptions.AuthenticationFailed:  # said again by authenticate()
            return []
        key = bot_token_cache_key(token) if token is not None else None
        return [key] if key else []

    def authenticate(self, request):
        token = self.credential(request)
        if token is None:
            return None
        bot = bot_authenticate(token, remembered=self.read_ahead)
        if bot is None:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN)
        if not bot.is_active:
            raise BotInactive()
        bot_touch(bot)
        # Who acts, for the log lines of this request (config.middleware clears it after).
        structlog.contextvars.bind_contextvars(bot=bot.name)
        return bot, token

    def authenticate_header(self, request):
        return self.keyword


class BotTokenScheme(OpenApiAuthenticationExtension):
    target_class = "warmup.api.authentication.BotTokenAuthentication"
    name = "botToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The bot token printed once by `manage.py create_bot NAME`.",
        }
