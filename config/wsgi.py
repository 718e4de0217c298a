"""The WSGI application gunicorn serves (`make serve`): the bot API's requests through a
handler of their own whose middleware is settings.BOT_API_MIDDLEWARE (what a bot's request
needs), every other request through Django's own with settings.MIDDLEWARE. Both resolve the
same URLs to the same views; a bot request just skips the sessions, CSRF, the admin's user and
messages, htmx, static files and the login lockout, none of which its views read."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

BOT_API_PREFIX = "/api/v1/bot/"


class BotAPIHandler(WSGIHandler):
    """Django's WSGI handler with settings.BOT_API_MIDDLEWARE as its middleware."""

    def load_middleware(self, is_async=False):
        # Django's loader reads settings.MIDDLEWARE: lend it the bots' list while it loads
        # (once, as the process starts, before it serves anything).
        pages = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.BOT_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = pages


def dispatch(pages, bot_api):
    """A WSGI application sending requests under BOT_API_PREFIX to `bot_api`, others to
    `pages`."""

    def application(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(BOT_API_PREFIX):
            return bot_api(environ, start_response)
        return pages(environ, start_response)

    return application


application = dispatch(get_wsgi_application(), BotAPIHandler())
