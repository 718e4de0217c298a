"""The ReviewLog in the admin: every intervention, newest first, read-only (the log is
append-only, written by warmup.lifecycle.review_log alone)."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator

from config.admin import ReadOnlyAdmin
from config.text import duration_display, step_display
from reviews.admin.dashboard import failure_label
from reviews.models import ReviewLog
from warmup.domain.choices import HELD, ReviewAction


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
    list_select_related = ("account", "phase__template", "actor_user", "actor_bot")
    list_per_page = 100
    show_full_result_count = False
    # A row's page: what happened in words first; the stored record (codes, hashes) last.
    fieldsets = (
        (None, {"fields": ("what", "item", "who", "when_exactly", "note")}),
        (
            "The item at that moment",
            {"fields": ("failure_category", "incident", "retry_count", "escalation_level")},
        ),
        ("Resolution", {"fields": ("resolution", "batch")}),
        (
            "As recorded (for audits)",
            {"classes": ("collapse",), "fields": ("data", "previous_hash", "hash")},
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        return [field for _, options in self.fieldsets for field in options["fields"]]

    def get_object(self, request, object_id, from_field=None):
        # The page's title names the step and the account (ReviewLog.__str__): one query.
        queryset = self.get_queryset(request).select_related(
            "account", "phase__template", "actor_user", "actor_bot", "signature"
        )
        model = queryset.model
        field = model._meta.pk if from_field is None else model._meta.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (model.DoesNotExist, ValidationError, ValueError):
            return None

    def changelist_view(self, request, extra_context=None):
        title = "Review log: every intervention, newest first"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    @admin.display(description="when", ordering="created_at")
    def when(self, log):
        return date_format(timezone.localtime(log.created_at), "j M, H:i")

    @admin.display(description="when")
    def when_exactly(self, log):
        return date_format(timezone.localtime(log.created_at), "j M Y, H:i:s")

    @admin.display(description="incident")
    def incident(self, log):
        """The kind of failure the item was in review for, linked to its incident."""
        if log.signature_id is None:
            return "\N{EM DASH}"
        signature = log.signature
        held = signature.category == HELD
        kind = ReviewAction.HELD.label if held else failure_label(signature.category)
        step = log.phase.template.name if log.phase_id else ""
        text = f"{kind} on {step[:1].lower()}{step[1:]}" if step else kind
        url = reverse("admin:reviews_incident_change", args=[signature.pk])
        return format_html('<a href="{}">{}</a>', url, text)

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
        step = step_display(log.phase.order, log.phase.template.name)
        return format_html('<a href="{}">{} \N{MIDDLE DOT} {}</a>', url, log.account, step)

    @admin.display(description="by")
    def who(self, log):
        return str(log.actor)

    @staticmethod
    def move(log) -> str:
        if log.action == ReviewAction.ESCALATION_RAISED:
            return f"to level {log.escalation_level}"
        if log.action == ReviewAction.RECATEGORIZED and log.data.get("to"):
            before, after = failure_label(log.data.get("from") or ""), failure_label(log.data["to"])
            return f"{before} \N{RIGHTWARDS ARROW} {after}"
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
