"""Request middleware: a fresh log context per request, naming the request's user."""

from __future__ import annotations

from functools import partial

import structlog

from config.logs import Deferred


def request_username(request) -> str | None:
    """The username of the request's authenticated user, or None (anonymous, or a bot: the
    bot API authenticates bots as the request's user, and binds `bot` itself).

    Read when a line is written, so a user the view authenticated (a review API token) counts.
    """
    try:
        user = getattr(request, "user", None)
        if getattr(user, "is_authenticated", False) and hasattr(user, "get_username"):
            return user.get_username()
    except Exception:  # never let a log line fail a request (say, the session store is down)
        return None
    return None


class LogContextMiddleware:
    """Start each request with an empty log context (a server thread serves many requests one
    after another, and one's `bot` must not leak into the next) and bind `user`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(user=Deferred(partial(request_username, request)))
        try:
            return self.get_response(request)
        finally:
            structlog.contextvars.clear_contextvars()
