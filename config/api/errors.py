"""API errors, for both APIs: every error is JSON `{"code": ..., "detail": ...}` with a
stable code.

One exception handler maps domain errors (warmup.domain.errors) and DRF's own exceptions; the JSON
404/500 handlers cover what happens outside a DRF view under /api/; ErrorSerializer and
`error_responses` describe the shape in the schema.
"""

from __future__ import annotations

import logging

from django.core.exceptions import DisallowedHost
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import set_rollback

from config import database
from config.api.parsers import MAX_BODY_BYTES
from warmup.domain.errors import DomainError

logger = logging.getLogger(__name__)

# DRF exception class -> our stable code (DRF's own codes are mostly fine; a few are renamed
# so the API speaks one vocabulary).
_CODES = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


# A database error a retry can cure (config.database): the same request a moment later will
# most likely go through, and the bot API answers a report retried with its lease token as if
# it had arrived once, so a bot can always retry.
DATABASE_UNAVAILABLE = (
    "The database was unavailable for this request; retry it in a few seconds. "
    "A report retried with the same lease token is answered as if it had arrived once."
)


# What the shared plumbing answers on either API, in the schema's words (each API adds its
# own for the rest): the JSON body parser (413, 415) and a database busy or gone (503).
PLUMBING_ERRORS = {
    413: f"payload_too_large (body over {MAX_BODY_BYTES // 1024} KiB)",
    415: "unsupported_media_type (send application/json)",
    503: "database_unavailable (lost, or a row stayed locked past DB_LOCK_TIMEOUT): retry "
    "after Retry-After",
}


BAD_HOST = "The Host header {host!r} is not one this server answers to (ALLOWED_HOSTS)."
BAD_REQUEST = "Bad request."


def _code_for(exc: exceptions.APIException) -> str:
    return _CODES.get(type(exc)) or type(exc).default_code or "error"


def api_exception_handler(exc, context):
    """DRF exception handler: DomainError and APIException to JSON with `code` and `detail`."""
    if isinstance(exc, DomainError):
        set_rollback()
        data = {"code": exc.code, "detail": exc.message}
        field = exc.context.get("field")
        if exc.code == "validation_error" and field:
            errors = [exc.message]
            data["errors"] = {field: errors}
            if exc.context.get("choices"):
                data["choices"] = exc.context["choices"]
        if exc.context.get("current_status"):
            data["current_status"] = exc.context["current_status"]
        return Response(data, status=exc.http_status)

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if database.is_retryable(exc):
        return _database_unavailable(exc)

    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django log it and answer 500 (JSON via handler500)

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        data = {
            "code": "validation_error",
            "detail": _validation_summary(exc.detail),
            "errors": exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail},
        }
    else:
        detail = exc.detail
        if isinstance(detail, (list, dict)):
            detail = str(detail)
        data = {"code": _code_for(exc), "detail": str(detail)}
    set_rollback()
    return Response(data, status=exc.status_code, headers=headers)


def _database_unavailable(exc) -> Response:
    """503 `database_unavailable` with Retry-After for a database error a retry can cure.
    Logged with its cause, so an outage is never only a count of 503s."""
    logger.warning("Database unavailable during an API request: %s", exc, exc_info=exc)
    set_rollback()
    return Response(
        {"code": "database_unavailable", "detail": DATABASE_UNAVAILABLE},
        status=503,
        headers={"Retry-After": str(database.RETRY_AFTER_SECONDS)},
    )


def _validation_summary(detail) -> str:
    if isinstance(detail, dict):
        fields = ", ".join(str(key) for key in detail)
        return f"Invalid input in: {fields}."
    return "Invalid input."


# --- Outside DRF views ---------------------------------------------------------------------


def json_not_found(request, exception=None):
    return JsonResponse(
        {"code": "not_found", "detail": f"No such endpoint: {request.path}"}, status=404
    )


def json_bad_request(request, exception=None):
    if isinstance(exception, DisallowedHost):
        # The host as sent, not request.get_host(), which is what refused it.
        host = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
        return JsonResponse(
            {"code": "bad_host", "detail": BAD_HOST.format(host=host[:200])}, status=400
        )
    return JsonResponse({"code": "bad_request", "detail": BAD_REQUEST}, status=400)


def json_server_error(request):
    return JsonResponse(
        {"code": "server_error", "detail": "Internal server error; it has been logged."},
        status=500,
    )


# --- Schema: the error shape, for drf-spectacular -----------------------------------------


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    detail = serializers.CharField(help_text="Human-readable explanation.")
    errors = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Per-field messages (validation_error only).",
    )
    current_status = serializers.CharField(
        required=False, help_text="The phase's status now (invalid_transition, lease_lost)."
    )
    choices = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Valid values, when relevant."
    )


def error_responses(descriptions: dict[int, str], *statuses: int) -> dict:
    """Schema responses for the error statuses an endpoint can answer, each with the error
    shape and the API's own words for what that status means there."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=descriptions[code]) for code in statuses
    }
