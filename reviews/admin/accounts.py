"""Accounts' review side: which accounts have an item in review, their review history, and the
review actions on them (pause, reactivate, hold for review).

Account status changes are review events: pausing and reactivating need the manage-accounts
permission (review leads), holding the resolve permission; each needs a note and goes
through the services (one ReviewLog row each). The review side extends the accounts page of
warmup.admin with them, so the warmup admin knows nothing of reviews.
"""

from django import forms
from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.html import format_html

from config.admin import ReadOnlyInline, RefuseUnpermittedActions, confirm_action
from config.text import step_display
from reviews.models import ReviewLog
from reviews.permissions import can_manage_accounts, can_resolve_reviews
from warmup.admin import AccountAdmin
from warmup.domain.actors import Actor
from warmup.domain.errors import refusal_words
from warmup.models import ACTIVE_STATUSES, Account, PhaseStatus, WarmupPhase
from warmup.services.accounts import account_pause, account_reactivate
from warmup.services.review import review_hold_account


class AccountStatusNoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why: it is written to each account's review log.",
    )


def _with_status(account: Account) -> str:
    return f"{account} (currently {account.get_status_display().lower()})"


class InReviewFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "in_review"

    def lookups(self, request, model_admin):
        return [("yes", "Has an item in review"), ("no", "Nothing in review")]

    def queryset(self, request, queryset):
        in_review = Exists(
            WarmupPhase.objects.filter(account=OuterRef("pk"), status=PhaseStatus.REVIEW_REQUIRED)
        )
        if self.value() == "yes":
            return queryset.filter(in_review)
        if self.value() == "no":
            return queryset.exclude(in_review)
        return queryset


class AccountReviewLogInline(ReadOnlyInline):
    model = ReviewLog
    fk_name = "account"
    verbose_name_plural = "review history, newest first"
    fields = ("created_at", "action", "step", "actor", "reason_code", "note")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    show_change_link = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("account", "phase__template", "actor_user", "actor_bot")
        )

    @admin.display(description="step")
    def step(self, log):
        """The plan step the row is about, linked to its page in the queue."""
        if log.phase_id is None:
            return "\N{EM DASH}"
        url = reverse("admin:reviews_reviewitem_change", args=[log.phase_id])
        return format_html(
            '<a href="{}">{}</a>', url, step_display(log.phase.order, log.phase.template.name)
        )


admin.site.unregister(Account)


@admin.register(Account)
class AccountReviewAdmin(RefuseUnpermittedActions, AccountAdmin):
    list_filter = (InReviewFilter, *AccountAdmin.list_filter)
    actions = ["pause_accounts", "reactivate_accounts", "hold_accounts"]

    def has_resolve_permission(self, request):
        return can_resolve_reviews(request.user)

    def has_manage_permission(self, request):
        return can_manage_accounts(request.user)

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), AccountReviewLogInline] if obj else []

    @admin.display(description="current phase")
    def current_phase(self, obj):
        """The account's active phase; one in review links to its page in the queue."""
        text = super().current_phase(obj)
        phase = next((p for p in obj.phases.all() if p.status in ACTIVE_STATUSES), None)
        if phase is None or phase.status != PhaseStatus.REVIEW_REQUIRED:
            return text
        url = reverse("admin:reviews_reviewitem_change", args=[phase.pk])
        return format_html('<a href="{}">{}</a>', url, text)

    @confirm_action(
        description="Pause automation of the selected accounts",
        title="Pause automation for {count} {noun}",
        button="Pause",
        done="Paused",
        noun=("account", "accounts"),
        form_class=AccountStatusNoteForm,
        intro="No bot starts work on these accounts until they are reactivated; a step a bot "
        "is doing now may still finish. Each pause is written to the account's review log "
        "with your note.",
        describe=_with_status,
        explain=refusal_words,  # briefly, by its code: the account is named beside it
        permissions=["manage"],
    )
    def pause_accounts(self, request, account, data):
        account_pause(account=account, actor=Actor.for_user(request.user), note=data["note"])

    @confirm_action(
        description="Reactivate the selected (suspended or paused) accounts",
        title="Reactivate {count} {noun}",
        button="Reactivate",
        done="Reactivated",
        noun=("account", "accounts"),
        form_class=AccountStatusNoteForm,
        intro="Their phases can be claimed by bots again. "
        "Each reactivation is written to the account's review log with your note.",
        describe=_with_status,
        explain=refusal_words,  # briefly, by its code: the account is named beside it
        permissions=["manage"],
    )
    def reactivate_accounts(self, request, account, data):
        account_reactivate(account=account, actor=Actor.for_user(request.user), note=data["note"])

    @confirm_action(
        description="Hold the selected accounts' current phases for review",
        title="Hold for review: {count} {noun}",
        button="Hold for review",
        done="Held",
        noun=("account", "accounts"),
        form_class=AccountStatusNoteForm,
        intro="Each account's current phase goes to the review queue; a bot working on it "
        "loses its lease. Your note is written to the phase's review log.",
        permissions=["resolve"],
    )
    def hold_accounts(self, request, account, data):
        review_hold_account(account=account, note=data["note"], actor=Actor.for_user(request.user))
