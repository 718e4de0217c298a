"""The review queue in the admin: phases in review_required, most escalated and longest waiting
first (read-only for now; the review console with its actions is built on this)."""

from django.contrib import admin
from django.utils.text import Truncator

from config.admin import ReadOnlyAdmin
from config.text import age_display
from reviews.models import ReviewItem
from reviews.selectors import QUEUE_ORDER, review_queue
from warmup.admin import PhaseAttemptInline


@admin.register(ReviewItem)
class ReviewItemAdmin(ReadOnlyAdmin):
    """The review queue: phases in review_required, highest escalation level first, then the
    longest waiting. Read-only for now."""

    list_display = (
        "account",
        "phase_type",
        "failure",
        "escalation_level",
        "in_review_for",
        "review_assignee",
        "retry_count",
        "short_reason",
    )
    list_filter = (
        "escalation_level",
        "last_failure_category",
        "account__platform",
        "phase_type",
        "review_assignee",
    )
    search_fields = ("account__username", "last_failure_reason")
    list_select_related = ("account", "review_assignee")
    ordering = QUEUE_ORDER
    inlines = [PhaseAttemptInline]
    fieldsets = (
        (None, {"fields": ("account", "order", "phase_type", "status", "content")}),
        (
            "Failure",
            {
                "fields": (
                    "last_failure_category",
                    "last_failure_reason",
                    "last_failure_details",
                    "last_failure_at",
                    "retry_count",
                    "attempt_count",
                )
            },
        ),
        ("Review", {"fields": ("review_required_since", "escalation_level", "review_assignee")}),
    )

    def get_queryset(self, request):
        # The same queue, in the same order, as the review API.
        return review_queue()

    @admin.display(description="failure", ordering="last_failure_category")
    def failure(self, obj):
        return obj.get_last_failure_category_display() or "(held)"

    @admin.display(description="in review for", ordering="review_required_since")
    def in_review_for(self, obj):
        return age_display(obj.review_required_since)

    @admin.display(description="reason")
    def short_reason(self, obj):
        return Truncator(obj.last_failure_reason).chars(70)
