"""Template filters for the review pages: durations as people say them."""

from django import template

from config.text import duration_display

register = template.Library()


@register.filter
def duration(value) -> str:
    """A timedelta or a number of seconds as '3 h 12 min'; '-' when there is none."""
    return "-" if value is None else duration_display(value)
