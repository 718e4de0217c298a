"""The review queue's filters (django-filter), shared by the review API and the admin."""

from datetime import timedelta

import django_filters
from django.core.validators import RegexValidator
from django.utils import timezone

from reviews.models import ReviewItem
from warmup.models import FailureCategory, Platform

MAX_AGE_SECONDS = 10 * 365 * 24 * 3600
ASSIGNEE_VALUE = RegexValidator(
    r"^(me|none|[0-9]{1,18})$", "Use a user id, 'me' or 'none'.", flags=0
)


class ReviewQueueFilter(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(
        field_name="last_failure_category", choices=FailureCategory.choices
    )
    phase_type = django_filters.CharFilter(field_name="phase_type")
    platform = django_filters.ChoiceFilter(field_name="platform", choices=Platform.choices)
    escalation_level = django_filters.NumberFilter(
        field_name="escalation_level", min_value=0, max_value=100, decimal_places=0
    )
    assignee = django_filters.CharFilter(
        method="filter_assignee",
        validators=[ASSIGNEE_VALUE],
        help_text="A user id, `me` (the caller) or `none` (unassigned).",
    )
    min_age = django_filters.NumberFilter(
        method="filter_min_age",
        min_value=0,
        max_value=MAX_AGE_SECONDS,
        help_text="Seconds in review, at least.",
    )
    bot = django_filters.CharFilter(
        method="filter_bot", help_text="The bot that last held the phase: its id or its name."
    )

    class Meta:
        model = ReviewItem
        fields = [
            "category",
            "phase_type",
            "platform",
            "escalation_level",
            "assignee",
            "min_age",
            "bot",
        ]

    def filter_assignee(self, qs, name, value):
        value = (value or "").strip()
        if value == "none":
            return qs.filter(review_assignee__isnull=True)
        if value == "me":
            user = getattr(self.request, "user", None)
            return qs.filter(review_assignee_id=getattr(user, "pk", None))
        return qs.filter(review_assignee_id=int(value))

    def filter_min_age(self, qs, name, value):
        seconds = float(value)
        return qs.filter(review_required_since__lte=timezone.now() - timedelta(seconds=seconds))

    def filter_bot(self, qs, name, value):
        value = (value or "").strip()
        if value.isascii() and value.isdigit() and len(value) <= 18:
            return qs.filter(bot_id=int(value))
        return qs.filter(bot__name=value)
