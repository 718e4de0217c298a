"""A JSON parser that refuses bodies over the API's size limit (413), declared or not."""

import io

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from warmup.api.errors import MAX_BODY_BYTES, PayloadTooLarge


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        body = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
