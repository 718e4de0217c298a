"""Bot authentication: `Authorization: Bearer <token>`, as printed by `create_bot`."""

import structlog
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from config.api.authentication import header_credential
from warmup.services.bots import bot_authenticate, bot_touch

INVALID_TOKEN = "Invalid bot token."
BOT_INACTIVE = "This bot is deactivated."
MALFORMED_HEADER = "Malformed Authorization header; expected 'Bearer <token>'."


class BotInactive(exceptions.PermissionDenied):
    default_detail = BOT_INACTIVE
    default_code = "bot_inactive"


class BotTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        token = header_credential(
            request, (self.keyword.lower().encode(),), malformed=MALFORMED_HEADER
        )
        if token is None:
            return None
        bot = bot_authenticate(token)
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
