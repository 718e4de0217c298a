"""Template filters and tags for the review pages: durations as people say them, and the
queue at a glance on the admin index."""

from django import template
from django.urls import reverse

from config.text import duration_display
from warmup.selectors.analytics import queue_depth
from warmup.selectors.filters import escalation_choices, escalation_label
from warmup.selectors.queue import review_queue

register = template.Library()


@register.filter
def duration(value) -> str:
    """A timedelta or a number of seconds as '3 h 12 min'; '-' when there is none."""
    return "-" if value is None else duration_display(value)


@register.filter
def escalation(level) -> str:
    """An escalation level in words: 'Level 2: over 4 h'."""
    return escalation_label(level)


@register.simple_tag(takes_context=True)
def review_summary(context) -> dict:
    """The queue at a glance for the admin index: how many items wait, by escalation level,
    and how many are assigned to the reader; each with the link to that slice of the queue."""
    user = context["request"].user
    queue_url = reverse("admin:reviews_reviewitem_changelist")
    depth = queue_depth()
    levels = [
        {
            "label": label,
            "count": depth["by_escalation_level"].get(value, 0),
            "url": f"{queue_url}?escalation_level={value}",
        }
        for value, label in reversed(escalation_choices())
    ]
    mine = review_queue().filter(review_assignee=user).count()
    return {
        "total": depth["total"],
        "url": queue_url,
        "levels": levels,
        "mine": mine,
        "mine_url": f"{queue_url}?assignee=me",
    }
