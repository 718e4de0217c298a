"""Admin for the review side: the append-only ReviewLog and the review queue (read-only for
now; the review console with its actions is built separately)."""

from django.contrib import admin
from django.utils.text import Truncator

from reviews.models import ReviewItem, ReviewLog
from reviews.selectors import QUEUE_ORDER, review_queue
from warmup.admin import PhaseAttemptInline, ReadOnlyAdmin, age_display


@admin.register(ReviewLog)
class ReviewLogAdmin(ReadOnlyAdmin):
    """Entirely read-only: the log is append-only, written by reviews.events alone."""

    list_display = (
        "created_at",
        "action",
        "account",
        "phase",
        "actor",
        "from_status",
        "to_status",
        "failure_category",
        "resolution_method",
        "reason_code",
        "escalation_level",
        "short_note",
    )
    list_filter = (
        "action",
        "actor_type",
        "failure_category",
        "resolution_method",
        "reason_code",
        "escalation_level",
    )
    search_fields = ("account__username", "note")
    list_select_related = ("account", "phase", "actor_user", "actor_bot")
    date_hierarchy = "created_at"

    @admin.display(description="note")
    def short_note(self, obj):
        return Truncator(obj.note).chars(60)


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
