"""Admin for the warmup domain. The admin never writes a phase's status: phases and attempts
are read-only here, accounts and bots are created through the services, and review actions
(the queue, and pausing or reactivating accounts) live in reviews.admin."""

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from config.admin import (
    BoundedLookups,
    ReadOnlyAdmin,
    ReadOnlyInline,
    RefuseUnpermittedActions,
    confirm_action,
)
from config.text import age_display, plural, step_display
from warmup.domain.actors import Actor
from warmup.domain.errors import InvalidInput
from warmup.models import (
    ACTIVE_STATUSES,
    Account,
    Bot,
    ContentItem,
    PhaseAttempt,
    PhaseStatus,
    PhaseTemplate,
    WarmupPhase,
    WarmupPlan,
)
from warmup.services.accounts import account_enrol, validate_enrolment
from warmup.services.bots import bot_create, bot_deactivate
from warmup.services.content import build_content_item

# --- Plans ---------------------------------------------------------------------------------


class PhaseTemplateInline(admin.TabularInline):
    model = PhaseTemplate
    extra = 0
    fields = (
        "order",
        "phase_type",
        "name",
        "requires_content",
        "delay",
        "lease_duration",
        "retry_overrides",
    )


@admin.register(WarmupPlan)
class WarmupPlanAdmin(admin.ModelAdmin):
    list_display = (
        "slug",
        "name",
        "is_active",
        "is_simulation",
        "step_count",
        "account_count",
        "created_at",
    )
    list_filter = ("is_active", "is_simulation")
    search_fields = ("slug", "name")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [PhaseTemplateInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _steps=Count("templates", distinct=True), _accounts=Count("accounts", distinct=True)
            )
        )

    @admin.display(description="steps", ordering="_steps")
    def step_count(self, obj):
        return obj._steps

    @admin.display(description="accounts", ordering="_accounts")
    def account_count(self, obj):
        return obj._accounts

    def has_delete_permission(self, request, obj=None):
        return False  # accounts keep their plan; retire one by unticking "is active"


# --- Accounts ------------------------------------------------------------------------------


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ("platform", "username", "plan")

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and data.get("plan") and data.get("platform"):
            try:
                data["username"] = validate_enrolment(
                    platform=data["platform"], username=data.get("username", ""), plan=data["plan"]
                )
            except InvalidInput as exc:
                self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


class AccountPhaseInline(ReadOnlyInline):
    model = WarmupPhase
    fields = (
        "step",
        "status",
        "retry_count",
        "last_failure_category",
        "next_attempt_at",
        "completed_at",
    )
    readonly_fields = fields
    ordering = ("order",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "template")

    @admin.display(description="step")
    def step(self, phase):
        return step_display(phase.order, phase.template.name)


@admin.register(Account)
class AccountAdmin(BoundedLookups, admin.ModelAdmin):
    form = AccountForm
    list_display = ("__str__", "status", "plan", "progress", "current_phase", "created_at")
    list_filter = ("status", "platform", "plan")
    search_fields = ("username",)
    list_select_related = ("plan",)
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        # Status changes (suspend, reactivate) are review events, made through the services.
        if obj is None:
            return ()
        return ("platform", "username", "plan", "status", "status_changed_at", "created_at")

    def get_inlines(self, request, obj):
        return [AccountPhaseInline] if obj is not None else []

    def has_change_permission(self, request, obj=None):
        # View-only once enrolled: a plain save would rewrite `status`, which only the
        # account services change (suspension and reactivation are logged review events).
        return False

    @admin.display(description="plan progress")
    def progress(self, obj):
        phases = obj.phases.all()
        done = sum(1 for p in phases if p.status == PhaseStatus.COMPLETED)
        return f"{done}/{len(phases)} done"

    @admin.display(description="current phase")
    def current_phase(self, obj):
        phase = next((p for p in obj.phases.all() if p.status in ACTIVE_STATUSES), None)
        if phase is None:
            return "\N{EM DASH}"
        step = step_display(phase.order, phase.template.name)
        return f"{step}: {phase.get_status_display().lower()}"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("phases__template")

    def has_delete_permission(self, request, obj=None):
        return False  # an account's history (attempts, review log) is kept; pause it instead

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # Enrolment creates the account's phases too.
        account = account_enrol(platform=obj.platform, username=obj.username, plan=obj.plan)
        obj.pk, obj.created_at, obj.status = account.pk, account.created_at, account.status
        obj._state.adding = False


# --- Phases --------------------------------------------------------------------------------


class PhaseAttemptInline(ReadOnlyInline):
    model = PhaseAttempt
    show_change_link = False
    fields = (
        "number",
        "bot",
        "claimed_at",
        "finished_at",
        "outcome",
        "failure_category",
        "reason",
        "decision",
        "retry_count_after",
        "next_attempt_at",
    )
    readonly_fields = fields
    ordering = ("-number",)


@admin.register(WarmupPhase)
class WarmupPhaseAdmin(ReadOnlyAdmin):
    """Read-only: phases change only through bot reports, the scheduler and review actions."""

    list_display = (
        "account",
        "order",
        "phase_type",
        "status",
        "retry_count",
        "last_failure_category",
        "next_attempt_at",
    )
    list_filter = ("status", "phase_type", "account__platform", "last_failure_category")
    search_fields = ("account__username", "last_failure_reason")
    list_select_related = ("account",)
    ordering = ("account__platform", "account__username", "order")
    inlines = [PhaseAttemptInline]
    fieldsets = (
        (None, {"fields": ("account", "template", "order", "phase_type", "status", "content")}),
        (
            "Schedule",
            {"fields": ("available_at", "next_attempt_at", "retry_count", "attempt_count")},
        ),
        ("Lease", {"fields": ("bot", "lease_token", "lease_expires_at")}),
        (
            "Last failure",
            {
                "fields": (
                    "last_failure_category",
                    "last_failure_reason",
                    "last_failure_details",
                    "last_failure_at",
                )
            },
        ),
        ("Review", {"fields": ("review_required_since", "review_assignee", "escalation_level")}),
        ("Completion", {"fields": ("completed_at", "completion_method")}),
        (None, {"fields": ("created_at", "updated_at")}),
    )


# --- Content -------------------------------------------------------------------------------


class ContentItemForm(forms.ModelForm):
    media_url = forms.URLField(max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = ContentItem
        fields = ("phase_type", "title", "body", "media_url", "is_active")

    def clean(self):
        data = super().clean()
        try:
            build_content_item(
                phase_type=data.get("phase_type", ""),
                title=data.get("title", ""),
                body=data.get("body", ""),
                media_url=data.get("media_url", ""),
            )
        except InvalidInput as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


@admin.register(ContentItem)
class ContentItemAdmin(admin.ModelAdmin):
    form = ContentItemForm
    list_display = ("title", "phase_type", "is_active", "times_used", "media_link", "created_at")
    list_filter = ("phase_type", "is_active")
    search_fields = ("title", "body")
    readonly_fields = ("times_used", "created_at")

    def has_delete_permission(self, request, obj=None):
        return False  # phases and attempts keep their content; untick "is active" instead

    @admin.display(description="media")
    def media_link(self, obj):
        if not obj.media_url:
            return "-"
        return format_html(
            '<a href="{}" rel="noreferrer">{}</a>', obj.media_url, obj.media_url.rsplit("/", 1)[-1]
        )


# --- Bots ----------------------------------------------------------------------------------


class BotCreateForm(forms.ModelForm):
    class Meta:
        model = Bot
        fields = ("name",)

    def clean_name(self):
        return (self.cleaned_data.get("name") or "").strip()


def _leases_held(bot: Bot) -> int:
    return WarmupPhase.objects.filter(bot=bot, status=PhaseStatus.IN_PROGRESS).count()


@admin.register(Bot)
class BotAdmin(BoundedLookups, RefuseUnpermittedActions, admin.ModelAdmin):
    """Adding a bot here (or with `manage.py create_bot NAME`) shows its token once. The token
    hash is not shown at all; the prefix identifies the token a bot uses."""

    list_display = ("name", "is_active", "is_simulated", "token_prefix", "last_seen", "created_at")
    list_filter = ("is_active", "is_simulated")
    search_fields = ("name", "token_prefix")
    actions = ["deactivate"]

    @admin.display(description="last seen", ordering="last_seen_at")
    def last_seen(self, obj):
        return f"{age_display(obj.last_seen_at)} ago" if obj.last_seen_at else "never"

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = BotCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name",)
        return ("name", "is_active", "is_simulated", "token_prefix", "created_at", "last_seen_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        # Through the service, which makes the token; it exists in plaintext only here.
        bot, token = bot_create(name=obj.name)
        obj.pk, obj.token_prefix, obj.created_at = bot.pk, bot.token_prefix, bot.created_at
        obj._state.adding = False
        request.new_bot_token = token

    def response_add(self, request, obj, post_url_continue=None):
        # The token on a page of its own, once: not in a message (messages travel in a
        # cookie) and not in any cache.
        context = {
            **self.admin_site.each_context(request),
            "title": f"Bot {obj.name} created",
            "bot": obj,
            "token": request.new_bot_token,
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/warmup/bot/token.html", context)
        add_never_cache_headers(response)
        return response

    def has_change_permission(self, request, obj=None):
        return False  # every field is read-only; changes go through the bot services

    def has_delete_permission(self, request, obj=None):
        return False

    def has_deactivate_permission(self, request):
        return request.user.has_perm("warmup.change_bot")

    @confirm_action(
        description="Deactivate selected bots (their requests are refused)",
        title="Deactivate {count} {noun}",
        button="Deactivate",
        done="Deactivated",
        noun=("bot", "bots"),
        intro="A deactivated bot's requests are refused from now on, and the phases it holds "
        "end at once as if their leases had expired (retried or sent to review by policy); "
        "its token is kept for the record.",
        permissions=["deactivate"],
        describe=lambda bot: f"{bot} (holds {plural(_leases_held(bot), 'phase')})",
    )
    def deactivate(self, request, bot, data):
        done = bot_deactivate(name=bot.name, actor=Actor.for_user(request.user))
        if done.leases_ended:
            self.message_user(
                request, f"Ended {plural(len(done.leases_ended), 'lease')} {bot} held."
            )
