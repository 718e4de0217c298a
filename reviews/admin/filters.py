"""The review queue's list filters in the admin, built from the queue's FilterSet
(`warmup.selectors.filters.ReviewQueueFilter`): each takes its parameter, title and choices from
one of its filters and narrows the list through the FilterSet itself, so the admin, the review API
and resolve_reviews take the same values and select the same items. A filter added there with
choices appears here.

A value that is not valid, or names a bot or user nobody has (a typo, junk in the URL), filters
nothing rather than failing.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import QueryDict

from warmup.selectors.filters import NO_ROW, Lookups, ReviewQueueFilter


def queue_list_filter(name: str, title: str, choices: Lookups) -> type[admin.SimpleListFilter]:
    """The list filter for the FilterSet's filter `name`: `?name=value` in the admin's URL,
    `choices(request)` listed under `title`."""

    class QueueListFilter(admin.SimpleListFilter):
        parameter_name = name

        def lookups(self, request, model_admin):
            return choices(request)

        def queryset(self, request, queryset):
            value = self.value()
            if value is None:
                return queryset
            data = QueryDict(mutable=True)
            data.setlist(name, [value])
            selection = ReviewQueueFilter(data, queryset=queryset, request=request)
            if not selection.is_valid() or selection.form.cleaned_data.get(name) == NO_ROW:
                return queryset  # junk, or a name nobody has: the admin's choices never give it
            return selection.qs

    QueueListFilter.title = title
    QueueListFilter.__name__ = "".join(part.title() for part in name.split("_")) + "ListFilter"
    QueueListFilter.__qualname__ = QueueListFilter.__name__
    return QueueListFilter


def queue_list_filters() -> tuple[type[admin.SimpleListFilter], ...]:
    """A list filter for each filter of the queue that has choices, in the FilterSet's order."""
    return tuple(
        queue_list_filter(name, spec.label, spec.lookups)
        for name, spec in ReviewQueueFilter.listed().items()
    )
