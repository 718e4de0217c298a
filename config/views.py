"""Project-level error pages (JSON under /api/, Django's defaults elsewhere) and the admin's
login lockout page."""

from django.conf import settings
from django.contrib import admin
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from config.api.errors import json_bad_request, json_not_found, json_server_error
from config.text import duration_display

LOGIN_LOCKED_OUT = (
    "Too many wrong passwords for {username} from your address: logging in as {username} from "
    "here is refused, even with the right password, for {cooloff}. Each further try starts "
    "the wait again. An administrator can unlock it sooner (manage.py axes_reset_username)."
)


# Also the catch-all route under /api/: CSRF-exempt like the API views, so a POST to an unknown
# API URL gets the JSON 404, not Django's HTML "CSRF verification failed" page.
@csrf_exempt
def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    """A 400 raised outside a view, such as a Host header not in ALLOWED_HOSTS."""
    if request.path.startswith("/api/"):
        return json_bad_request(request, exception)
    return defaults.bad_request(request, exception)


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): the admin's own
    page saying why and for how long, with 429, instead of a bare error page."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    message = LOGIN_LOCKED_OUT.format(
        username=username or "this username",
        cooloff=duration_display(settings.AXES_COOLOFF_TIME),
    )
    context = {**admin.site.each_context(request), "title": "Login refused", "message": message}
    # Rendered now: axes' middleware hands it back after the response middleware has run.
    return render(request, "admin/login_locked_out.html", context, status=429)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return defaults.server_error(request)
