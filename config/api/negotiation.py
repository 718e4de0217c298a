"""Content negotiation with a fast path for the usual API request: one that accepts anything
or JSON, of a view whose first renderer is JSON, gets that renderer without DRF parsing the
Accept header and the query string. Anything else is DRF's negotiation, answer for answer
(406 `not_acceptable` included)."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

# Accept headers answered as DRF would for a JSON renderer: (renderer, "application/json").
JSON_ACCEPTED = frozenset({"", "*/*", "application/json"})


class JSONFirstNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        first = renderers[0] if renderers else None
        if (
            first is not None
            and first.media_type == "application/json"
            and format_suffix is None
            and not request.META.get("QUERY_STRING")  # no ?format= to honour
            and request.META.get("HTTP_ACCEPT", "") in JSON_ACCEPTED
        ):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
