"""The queue as CSV: the items the list shows (its filters, search and ordering, through the
changelist's own queryset; every item, not a page), one row each with what failed, how long it
has waited and a link to its page. Streamed in chunks, so 10,000 rows never sit in memory
whole; written by `config.text.write_csv` (formula-safe). Side effects: none."""

from __future__ import annotations

import io
from collections.abc import Iterator

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from config.text import write_csv

COLUMNS = (
    "item",
    "account",
    "step",
    "failure category",
    "signature",
    "failure reason",
    "escalation level",
    "assignee",
    "in review since",
    "seconds in review",
    "hours in review",
    "item page",
)
CHUNK = 1000  # rows read and written at a time
BAD_FILTERS = "The queue's filters in the address are not valid; nothing was downloaded."


def csv_query(request) -> str:
    """The queue's address parameters the CSV follows: all but the page (and the error flag)."""
    query = request.GET.copy()
    for name in ("p", "e", "all"):
        query.pop(name, None)
    return query.urlencode()


def queue_csv_view(modeladmin, request):
    """GET the queue's listed items as a CSV download (the same address parameters as the
    list); bad filters go back to the list with a message."""
    if not modeladmin.has_view_permission(request):
        raise PermissionDenied
    try:
        cl = modeladmin.get_changelist_instance(request)
    except IncorrectLookupParameters:
        modeladmin.message_user(request, BAD_FILTERS, messages.ERROR)
        return HttpResponseRedirect(reverse("admin:reviews_reviewitem_changelist"))
    items = (
        cl.get_queryset(request)
        .prefetch_related(None)
        .select_related("template", "review_signature")
    )
    page = request.build_absolute_uri(reverse("admin:reviews_reviewitem_change", args=[0]))
    head, tail = page.rsplit("/0/", 1)
    response = StreamingHttpResponse(
        _chunks(items, now=timezone.now(), link=lambda pk: f"{head}/{pk}/{tail}"),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="review-queue-{stamp}.csv"'
    return response


def _chunks(items, *, now, link) -> Iterator[str]:
    rows: list[list] = [list(COLUMNS)]
    for item in items.iterator(chunk_size=CHUNK):
        rows.append(_row(item, now=now, link=link))
        if len(rows) >= CHUNK:
            yield _written(rows)
            rows = []
    if rows:
        yield _written(rows)


def _written(rows: list[list]) -> str:
    out = io.StringIO()
    write_csv(out, rows)
    return out.getvalue()


def _row(item, *, now, link) -> list:
    since = item.review_required_since
    seconds = int((now - since).total_seconds()) if since else None
    return [
        item.pk,
        str(item.account),
        item.template.name,
        item.get_last_failure_category_display() or "Held by a reviewer",
        item.review_signature.title if item.review_signature else "",
        item.last_failure_reason,
        item.escalation_level,
        item.review_assignee.get_username() if item.review_assignee else "",
        since.isoformat() if since else "",
        seconds,
        f"{seconds / 3600:.1f}" if seconds is not None else "",
        link(item.pk),
    ]
