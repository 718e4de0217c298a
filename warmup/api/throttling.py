from config.api.throttling import WindowRateThrottle
from warmup.models import Bot


class BotRateThrottle(WindowRateThrottle):
    """Per-bot request rate: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["bot"] (env BOT_RATE)."""

    scope = "bot"

    def get_cache_key(self, request, view):
        if not isinstance(request.user, Bot):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
