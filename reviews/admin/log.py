"""The ReviewLog in the admin: every intervention, newest first, read-only (the log is
append-only, written by warmup.lifecycle.review_log alone)."""

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator

from config.admin import ReadOnlyAdmin
from config.text import duration_display
from reviews.models import ReviewLog
from warmup.domain.choices import ReviewAction


@admin.register(ReviewLog)
class ReviewLogAdmin(ReadOnlyAdmin):
    list_display = ("when", "what", "item", "who", "failure_category", "resolution", "short_note")
    list_display_links = ("when",)
    list_filter = (
        "action",
        ("actor_type", admin.ChoicesFieldListFilter),
        "failure_category",
        "resolution_method",
        "reason_code",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("account__username", "note")
    search_help_text = "Username or note"
    list_select_related = ("account", "phase", "actor_user", "actor_bot")
    list_per_page = 100
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        title = "Review log: every intervention, newest first"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    @admin.display(description="when", ordering="created_at")
    def when(self, log):
        return date_format(timezone.localtime(log.created_at), "j M, H:i")

    @admin.display(description="what", ordering="action")
    def what(self, log):
        """The event, and the move it made then (not the phase's status now)."""
        move = self.move(log)
        if not move:
            return log.get_action_display()
        return format_html('{}<br><span class="quiet">{}</span>', log.get_action_display(), move)

    @admin.display(description="item", ordering="account")
    def item(self, log):
        """The account and the phase the row is about, linked to the item's page."""
        if log.phase_id is None:
            return str(log.account)
        url = reverse("admin:reviews_reviewitem_change", args=[log.phase_id])
        return format_html(
            '<a href="{}">{} #{} {}</a>', url, log.account, log.phase.order, log.phase.phase_type
        )

    @admin.display(description="by")
    def who(self, log):
        return str(log.actor)

    @staticmethod
    def move(log) -> str:
        if log.action == ReviewAction.ESCALATION_RAISED:
            return f"to level {log.escalation_level}"
        if log.from_status and log.to_status and log.from_status != log.to_status:
            before, after = log.get_from_status_display(), log.get_to_status_display()
            return f"{before} \N{RIGHTWARDS ARROW} {after}"
        return ""

    @admin.display(description="resolution", ordering="resolution_method")
    def resolution(self, log):
        """How it was resolved, why, and after how long in review."""
        if not log.resolution_method:
            return "\N{EM DASH}"
        how = f"{log.get_resolution_method_display()}: {log.get_reason_code_display().lower()}"
        if log.time_in_review is None:
            return how
        waited = duration_display(log.time_in_review)
        return format_html('{}<br><span class="quiet">after {} in review</span>', how, waited)

    @admin.display(description="note")
    def short_note(self, log):
        return format_html('<span title="{}">{}</span>', log.note, Truncator(log.note).chars(50))
