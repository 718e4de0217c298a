"""Project-level error pages: JSON under /api/, Django's defaults elsewhere."""

from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from config.api.errors import json_not_found, json_server_error


# Also the catch-all route under /api/: CSRF-exempt like the API views, so a POST to an unknown
# API URL gets the JSON 404, not Django's HTML "CSRF verification failed" page.
@csrf_exempt
def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return defaults.server_error(request)
