"""Request middleware: a fresh log context per request, naming the request's user; a NUL
character refused; a page the database could not serve in time answered as busy. (The API's
body limit is config.api.parsers.BodyLimitMiddleware.)"""

from __future__ import annotations

import logging
from functools import partial

import structlog
from django.contrib import admin
from django.http import HttpResponseBadRequest
from django.shortcuts import render

from config import database
from config.logs import Deferred

logger = logging.getLogger("config.middleware")


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


NUL_REFUSED = "The request holds a NUL character (%00), which no page here takes; nothing was done."


class RefuseNulMiddleware:
    """Answer 400 to a page request whose address or form holds a NUL character: no field of
    this app can hold one (PostgreSQL refuses it in text), and an admin list filter or search
    would otherwise fail deep in the database with a 500. The APIs answer such input
    themselves, as JSON with a stable code, so /api/ passes through."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/") and _holds_nul(request):
            return HttpResponseBadRequest(NUL_REFUSED, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def _holds_nul(request) -> bool:
    if "\x00" in request.path:
        return True
    forms = [request.GET]
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        forms.append(request.POST)
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for form in forms
        for key, values in form.lists()
    )


DATABASE_BUSY = (
    "The database could not finish this in time (a row stayed locked, or the connection was "
    "lost), so nothing was changed. Try again in a few seconds."
)


class DatabaseBusyMiddleware:
    """A page (the admin) whose database work gave up, on a lock held past DB_LOCK_TIMEOUT, a
    statement past DB_STATEMENT_TIMEOUT or a dropped connection: 503 with the admin's own page
    saying nothing was changed (the request's transaction rolled back) and to try again,
    instead of a 500. Logged with its cause. The APIs answer these as JSON themselves."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if request.path.startswith("/api/") or not database.is_retryable(exception):
            return None
        logger.warning("Database busy or lost on %s: %s", request.path, exception, exc_info=True)
        context = {
            **admin.site.each_context(request),
            "title": "Try again",
            "message": DATABASE_BUSY,
            # Back where the reviewer was: the page itself, or for a form sent, its page.
            "again": request.get_full_path()
            if request.method == "GET"
            else request.headers.get("Referer", ""),
        }
        response = render(request, "admin/database_busy.html", context, status=503)
        response["Retry-After"] = str(database.RETRY_AFTER_SECONDS)
        return response
