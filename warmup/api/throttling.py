from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from warmup.models import Bot


class BotRateThrottle(SimpleRateThrottle):
    """Per-bot request rate: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["bot"] (env BOT_RATE)."""

    scope = "bot"

    def get_rate(self):
        # Read at request time, so a settings override (tests, reloads) takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        if not isinstance(request.user, Bot):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
