from config.api.throttling import WindowRateThrottle


class ReviewRateThrottle(WindowRateThrottle):
    """Per-user request rate of the review API: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    ["review"] (env REVIEW_RATE), generous: a person, or a script of theirs, never a fleet.
    Requests without a user are limited per address (FailedAuthenticationThrottle)."""

    scope = "review"

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
