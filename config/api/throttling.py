"""Request rates for both APIs, counted in the cache (Redis with REDIS_URL, so every server
process counts towards one limit).

A rate "N/period" allows N requests per window of that period on the clock (a minute from :00
to :59, an hour, ...). Each window is one cache key raised with an atomic increment, so two
processes can never both take the last request of a window, as a read-then-write history could;
the price is that a burst across the boundary of two windows may see up to 2N in one period.
Beyond the rate: 429 `throttled` with Retry-After (the seconds left in the window).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from config.cache import count_in_window


class WindowRateThrottle(SimpleRateThrottle):
    """A SimpleRateThrottle counted per clock window with atomic increments; subclasses say
    whom a request counts for (`get_cache_key`, None: not limited by this throttle)."""

    def get_ident(self, request):
        # DRF's answer (which config.addresses.client_ip asks too), without DRF building
        # request.headers from every header to read X-Forwarded-For that it then ignores when
        # no proxy is trusted: every API request asks this.
        if api_settings.NUM_PROXIES == 0:
            return request.META.get("REMOTE_ADDR")
        return super().get_ident(request)

    def get_rate(self):
        # Read at request time, so a settings override (tests, reloads) takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        return self.count(key) <= self.num_requests

    def count(self, key: str) -> int:
        """Count one request in the current window; how many it has now."""
        return count_in_window(self.cache, self._window_key(key), self.duration)

    def counted(self, key: str, *, read_with: list[str] = ()) -> tuple[int, dict]:
        """How many requests the current window has, without counting one; and the values
        of the cache keys `read_with` that are set, read in the same round trip."""
        window_key = self._window_key(key)
        if not read_with:
            return self.cache.get(window_key, 0), {}
        found = self.cache.get_many([window_key, *read_with])
        return found.pop(window_key, 0), found

    def wait(self):
        """Seconds until the current window ends."""
        return self.duration - self.now % self.duration

    def _window_key(self, key: str) -> str:
        self.now = self.timer()
        return f"{key}:{int(self.now // self.duration)}"


class FailedAuthenticationThrottle(WindowRateThrottle):
    """Per client address (config.addresses): API requests without valid credentials, whether
    missing, wrong or a deactivated bot's. Rate `auth_failures` (env AUTH_FAILURE_RATE)."""

    scope = "auth_failures"

    def get_cache_key(self, request, view=None):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def refused(self, request, *, read_with: list[str] = ()) -> tuple[bool, dict]:
        """Whether the address has used up its failed attempts of the window (`wait()` then
        says for how long), and the values of the cache keys `read_with` that are set, read in
        the same round trip. Every edge that reads credentials asks this first."""
        if self.rate is None:
            return False, {}
        count, found = self.counted(self.get_cache_key(request), read_with=read_with)
        return count >= self.num_requests, found

    def failed(self, request) -> None:
        """Count one request of the address whose credentials were missing or wrong."""
        if self.rate is not None:
            self.count(self.get_cache_key(request))


class LimitFailedAuthentication:
    """API view mixin: once an address has used up its failed attempts for the window, its
    requests get 429 before their credentials are even looked at (so tokens cannot be guessed
    at any speed); until then each request that ends up unauthenticated counts as one.

    Clients behind one address share the budget: a bot with a stale token slows down its
    neighbours until it is fixed, never a bot elsewhere.

    `count_anonymous = False` for a view anyone may read (the schema and its docs page): there
    only credentials that fail count, not a request that brings none.

    An authentication that reads the cache may say what it will read (`cache_keys(request)`);
    those keys are read with the address's count, in one round trip, and handed to it
    (`read_ahead`: the keys found and their values)."""

    count_anonymous = True

    def perform_authentication(self, request):
        failures = FailedAuthenticationThrottle()
        ahead = {
            authenticator: authenticator.cache_keys(request)
            for authenticator in request.authenticators
            if hasattr(authenticator, "cache_keys") and failures.rate is not None
        }
        read_with = [key for keys in ahead.values() for key in keys]
        refused, found = failures.refused(request, read_with=read_with)
        for authenticator, keys in ahead.items():
            authenticator.read_ahead = {k: found[k] for k in keys if k in found}
        if refused:
            # Anonymous, so nothing reads the credentials later (a page's template asks for
            # request.user, which would authenticate the token after all).
            request.user, request.auth = AnonymousUser(), None
            raise exceptions.Throttled(wait=failures.wait())
        try:
            user = request.user
        except exceptions.APIException:
            failures.failed(request)
            raise
        if self.count_anonymous and not getattr(user, "is_authenticated", False):
            failures.failed(request)
