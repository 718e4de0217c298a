"""The console's live parts: the queue, the incidents page and the dashboard's counts ask every
few seconds what changed (htmx polls, `templates/admin/reviews/live/`), and get back only the
pieces to swap in place (htmx out-of-band swaps), never the rows themselves: nothing shifts
under the reviewer's cursor and ticked boxes stay ticked. Each poll reads what it shows in one
query (besides the session and user every admin request reads). With JavaScript off the pages
are what they were; a reload shows the same.

The queue's poll carries the page's own address (its filters, search and page) plus `shown`,
the ids of its rows, and `since`, when it was drawn; it answers with a "N new" link for the
items of the same filters that came in since, and with each shown row that left review greyed
and saying who resolved it.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from config.text import plural
from warmup.domain.choices import ReviewAction
from warmup.selectors import incidents as incident_reads
from warmup.selectors import queue as queue_reads

POLL_SECONDS = 5  # how often a live page asks; the pages say it in their markup
MAX_SHOWN = 500  # ids one poll may ask about (a page shows 50; "show all" at most this)
LIVE_PARAMETERS = ("shown", "since", "_")  # the poll's own; the rest are the page's filters


def drawn_at() -> str:
    """The moment a live page is drawn, as its poll sends it back in `since`."""
    return timezone.now().isoformat()


def poll_url(url_name: str, request, *, shown, since: str) -> str:
    """The address a live page polls: the view `url_name` with the page's own parameters (its
    filters, search and page), the ids or keys of what it shows, and when it was drawn."""
    query = _page_query(request)
    query["shown"] = ",".join(str(key) for key in shown)
    query["since"] = since
    return f"{reverse(url_name)}?{query.urlencode()}"


class BadPoll(ValueError):
    pass


def _since(value: str | None) -> datetime:
    try:
        moment = datetime.fromisoformat(value or "")
    except ValueError:
        raise BadPoll("since: not a moment (ISO 8601)") from None
    if timezone.is_naive(moment):
        raise BadPoll("since: give the time zone")
    return moment


def _shown(value: str | None, *, limit: int = MAX_SHOWN) -> list[int]:
    parts = [part for part in (value or "").split(",") if part]
    if len(parts) > limit or not all(part.isascii() and part.isdigit() for part in parts):
        raise BadPoll(f"shown: at most {limit} ids, comma-separated")
    return [int(part) for part in parts if len(part) < 19]


def left_words(left: queue_reads.Left) -> str:
    """'Resolved by rita (skipped)': a shown row that someone else took out of the queue."""
    who = left.by or "the system"
    try:
        what = ReviewAction(left.action).label.lower()
    except ValueError:
        return f"Left the queue ({who})"
    return f"Resolved by {who} ({what})"


def _page_query(request) -> QueryDict:
    query = request.GET.copy()
    for name in LIVE_PARAMETERS:
        query.pop(name, None)
    return query


def queue_view(modeladmin, request):
    """The queue's poll: the rows of the page that left review, and how many new items match
    the page's filters and search."""
    if not modeladmin.has_view_permission(request):
        raise PermissionDenied
    try:
        since, shown = _since(request.GET.get("since")), _shown(request.GET.get("shown"))
    except BadPoll as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain")
    page = _page_query(request)
    selection = queue_reads.review_selection(page, user=request.user)
    matching = selection.qs if selection.is_valid() else None
    if matching is not None and page.get("q"):
        matching, _ = modeladmin.get_search_results(request, matching, page["q"])
    if matching is None:
        matching = queue_reads.review_queue().none()
    changes = queue_reads.queue_changes(matching, shown=shown, since=since)
    queue_url = reverse("admin:reviews_reviewitem_changelist")
    return TemplateResponse(
        request,
        "admin/reviews/live/queue.html",
        {
            "left": [(one.phase_id, left_words(one)) for one in changes.left],
            "new": changes.new,
            "new_words": _new_words(changes.new),
            "reload_url": f"{queue_url}?{page.urlencode()}" if page else queue_url,
        },
    )


def _new_words(count: int, cap: int = 99) -> str:
    if count > cap:
        return f"{cap}+ new items"
    return f"{plural(count, 'new item')}"


def incidents_view(modeladmin, request):
    """The incidents page's poll: each shown incident's count now (one grouped read of the
    queue's signature index), and how many incidents the page does not show opened since it
    was drawn (those of its other pages that were open then are not new)."""
    if not modeladmin.has_view_permission(request):
        raise PermissionDenied
    try:
        since = _since(request.GET.get("since"))
    except BadPoll as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain")
    shown = [key for key in request.GET.get("shown", "").split(",") if key][:MAX_SHOWN]
    counts = incident_reads.incident_counts()
    others = set(counts) - set(shown)
    return TemplateResponse(
        request,
        "admin/reviews/live/incidents.html",
        {
            "rows": [(key, *counts.get(key, (0, 0, None))[:2]) for key in shown],
            "new": sum(1 for key in others if counts[key][2] >= since),
        },
    )
