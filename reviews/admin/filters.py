"""The review queue's list filters in the admin, built from the queue's FilterSet
(`warmup.selectors.filters.ReviewQueueFilter`): each takes its parameter, title and choices from
one of its filters and narrows the list through the FilterSet itself, so the admin, the review API
and resolve_reviews take the same values and select the same items. A filter added there with
choices appears here.

A value that is not valid, or names a bot or user nobody has (a typo, junk in the URL), filters
nothing rather than failing.

A filter with more than LONG_LIST choices (the bots of a fleet: hundreds) is a box to type a
name in, offering its choices as the browser's suggestions, not a column of links as long as
the fleet: the sidebar stays a sidebar, and the page does not build a link per bot.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import QueryDict

from warmup.selectors.filters import NO_ROW, Lookups, ReviewQueueFilter

LONG_LIST = 12  # more choices than this: a box to type in, with the choices as suggestions
LONG_LIST_TEMPLATE = "admin/reviews/reviewitem/long_filter.html"


def queue_list_filter(
    name: str, title: str, choices: Lookups, pinned: tuple = ()
) -> type[admin.SimpleListFilter]:
    """The list filter for the FilterSet's filter `name`: `?name=value` in the admin's URL,
    `choices(request)` listed under `title`; when they are many, the `pinned` ones as links
    and the others offered in a box to type in."""

    class QueueListFilter(admin.SimpleListFilter):
        parameter_name = name

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.is_long = len(self.lookup_choices) > LONG_LIST
            if self.is_long:
                self.template = LONG_LIST_TEMPLATE
            self.kept: list[tuple[str, str]] = []
            self.typed = [(v, label) for v, label in self.lookup_choices if v not in pinned]
            # The box shows the name typed, not a pinned choice (that one is a selected link).
            self.typed_value = "" if self.value() in (None, *pinned) else self.value()

        def lookups(self, request, model_admin):
            return choices(request)

        def choices(self, changelist):
            if not self.is_long:
                yield from super().choices(changelist)
                return
            # The box's form sends the list's other parameters beside its own, as hidden
            # fields, so typing a name keeps the other filters, the search and the order.
            self.kept = [
                (key, value)
                for key, values in sorted(changelist.filter_params.items())
                if key != self.parameter_name
                for value in values
            ]
            yield {
                "selected": self.value() is None,
                "query_string": changelist.get_query_string(remove=[self.parameter_name]),
                "display": "All",
            }
            for value, label in self.lookup_choices:
                if value in pinned:
                    yield {
                        "selected": self.value() == str(value),
                        "query_string": changelist.get_query_string({self.parameter_name: value}),
                        "display": label,
                    }

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
        queue_list_filter(name, spec.label, spec.lookups, spec.pinned)
        for name, spec in ReviewQueueFilter.listed().items()
    )
