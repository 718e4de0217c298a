"""The API's body limit: a middleware that refuses bodies over it (413) before anything reads
them, declared or chunked, and a JSON parser that refuses them too, and numbers no JSON
document can hold (1e999 parses to infinity, which the database and the renderer both
refuse), and text no UTF-8 can hold (a lone surrogate such as the escape `\\ud800`: valid JSON,
but no error message can echo it and no database store it)."""

import codecs
import io
import json
import math

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

from warmup.domain.validation import json_depth_over, json_texts, lone_surrogate

MAX_BODY_BYTES = 64 * 1024

NUMBER_OUT_OF_RANGE = "Out of range float values are not JSON compliant"
# Deeper documents are refused: storing and rendering them recurses once per level, and a few
# hundred levels already exhaust the stack below a request (a 500 instead of a 400).
MAX_JSON_DEPTH = 64
NESTED_TOO_DEEPLY = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."


INVALID_UNICODE = (
    "The body holds a lone surrogate (an escape from \\ud800 to \\udfff without its pair), "
    "which is not text: send each character outside the Basic Multilingual Plane as its "
    "surrogate pair, or as UTF-8."
)


class InvalidUnicode(ParseError):
    """400 `invalid_unicode`: once for every field of every body, so no field's error message
    ever echoes a lone surrogate back (the renderer cannot encode it: a 500)."""

    default_detail = INVALID_UNICODE
    default_code = "invalid_unicode"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"Request body is larger than {MAX_BODY_BYTES // 1024} KiB."
    default_code = "payload_too_large"


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{NUMBER_OUT_OF_RANGE}: {text[:40]}")
    return value


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        declared = str(declared or "")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        body = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            # Text encodings only: a bytes-to-bytes codec (zlib, bz2) would decompress the body
            # past the size limit; str.encode() refuses those codecs.
            "".encode(encoding)
        except (LookupError, UnicodeError):
            raise ParseError(
                f"Unsupported charset {encoding!r} in the Content-Type header."
            ) from None
        try:
            text = codecs.decode(body, encoding)
            data = json.loads(text, parse_constant=strict_constant, parse_float=_finite_float)
        except RecursionError:
            raise ParseError(NESTED_TOO_DEEPLY) from None
        except ValueError as exc:  # also UnicodeDecodeError and JSONDecodeError
            raise ParseError(f"JSON parse error - {exc}") from None
        if json_depth_over(data, MAX_JSON_DEPTH):
            raise ParseError(NESTED_TOO_DEEPLY)
        # Only a `\u` escape makes a lone surrogate (raw ones fail to decode above).
        if "\\u" in text and any(map(lone_surrogate, json_texts(data))):
            raise InvalidUnicode()
        return data


# --- Before DRF: the middleware (settings.MIDDLEWARE) ---------------------------------------


class BodyLimitMiddleware:
    """An API request's body is bounded before DRF (or anything) reads it: over MAX_BODY_BYTES
    it gets 413 `payload_too_large` as JSON, whether its Content-Length says so or a chunked
    body (no Content-Length; the server de-chunks it into wsgi.input) turns out longer. A
    chunked body within the limit is read here, at most the limit + 1 bytes, and handed on
    with its length, so the view reads it (Django takes a body without Content-Length as
    empty). Other pages keep Django's own limits (DATA_UPLOAD_MAX_MEMORY_SIZE)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and not _body_within_limit(request, MAX_BODY_BYTES):
            return JsonResponse(
                {"code": PayloadTooLarge.default_code, "detail": PayloadTooLarge.default_detail},
                status=PayloadTooLarge.status_code,
            )
        return self.get_response(request)


def _body_within_limit(request, limit: int) -> bool:
    """Whether the request's body is at most `limit` bytes; a chunked one is read (never more
    than limit + 1 bytes) and put back as a body of known length."""
    declared = str(request.META.get("CONTENT_LENGTH") or "")
    if declared:
        return not (declared.isascii() and declared.isdigit() and int(declared) > limit)
    if "chunked" not in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return True
    stream = request.META.get("wsgi.input")
    if stream is None:
        return True
    body = bytearray()
    while len(body) <= limit:
        piece = stream.read(limit + 1 - len(body))
        if not piece:
            break
        body += piece
    if len(body) > limit:
        return False
    request.META["CONTENT_LENGTH"] = str(len(body))
    request._stream = LimitedStream(io.BytesIO(bytes(body)), len(body))
    return True
