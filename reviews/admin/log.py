"""The ReviewLog in the admin: every intervention, read-only (the log is append-only, written
by reviews.events alone)."""

from django.contrib import admin
from django.utils.text import Truncator

from config.admin import ReadOnlyAdmin
from reviews.models import ReviewLog


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
