"""The review queue's filters in the admin, with the words a reviewer uses.

Each filter lists its choices from a small table (the choices, the plan steps, the bots, the
escalation thresholds), never with a SELECT DISTINCT over the phases. A value that is not one
of the choices (a typo, junk in the URL) filters nothing rather than failing.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.utils import timezone

from config.text import duration_display
from warmup.models import AccountStatus, Bot, FailureCategory, PhaseTemplate, Platform

HELD = "held"  # an item put on hold has no failure category


class ChoiceListFilter(admin.SimpleListFilter):
    """A list filter over fixed choices: `choices()` gives (value, label) pairs and
    `filter(queryset, value)` applies one of them."""

    def choices_for(self, request) -> list[tuple[str, str]]:
        raise NotImplementedError

    def filter(self, request, queryset, value):
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return self.choices_for(request)

    def queryset(self, request, queryset):
        value = self.value()
        if value is None or value not in {str(key) for key, _ in self.lookup_choices}:
            return queryset
        return self.filter(request, queryset, value)


class CategoryFilter(ChoiceListFilter):
    title = "failure category"
    parameter_name = "category"

    def choices_for(self, request):
        return [*FailureCategory.choices, (HELD, "Held by a reviewer")]

    def filter(self, request, queryset, value):
        return queryset.filter(last_failure_category="" if value == HELD else value)


class PhaseTypeFilter(ChoiceListFilter):
    title = "phase"
    parameter_name = "phase_type"

    def choices_for(self, request):
        names = {}
        for phase_type, name in PhaseTemplate.objects.order_by("order", "pk").values_list(
            "phase_type", "name"
        ):
            names.setdefault(phase_type, name)
        return list(names.items())

    def filter(self, request, queryset, value):
        return queryset.filter(phase_type=value)


class PlatformFilter(ChoiceListFilter):
    title = "platform"
    parameter_name = "platform"

    def choices_for(self, request):
        return Platform.choices

    def filter(self, request, queryset, value):
        return queryset.filter(platform=value)


def escalation_labels() -> list[tuple[str, str]]:
    """("0", "Level 0: under 1 h"), ("1", "Level 1: over 1 h"), ... from the thresholds."""
    thresholds = settings.WARMUP_ESCALATION_THRESHOLDS
    labels = []
    if thresholds:
        labels.append(("0", f"Level 0: under {duration_display(thresholds[0])}"))
    for level, threshold in enumerate(thresholds, start=1):
        labels.append((str(level), f"Level {level}: over {duration_display(threshold)}"))
    return labels


class EscalationFilter(ChoiceListFilter):
    title = "escalation"
    parameter_name = "level"

    def choices_for(self, request):
        return escalation_labels()

    def filter(self, request, queryset, value):
        return queryset.filter(escalation_level=int(value))


class AssigneeFilter(ChoiceListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def choices_for(self, request):
        return [("me", "Assigned to me"), ("none", "Unassigned")]

    def filter(self, request, queryset, value):
        if value == "me":
            return queryset.filter(review_assignee=request.user)
        return queryset.filter(review_assignee__isnull=True)


class BotFilter(ChoiceListFilter):
    title = "last bot"
    parameter_name = "bot"

    def choices_for(self, request):
        return [
            (str(pk), name) for pk, name in Bot.objects.order_by("name").values_list("pk", "name")
        ]

    def filter(self, request, queryset, value):
        return queryset.filter(bot_id=int(value))


WAITING = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24)}


class WaitingFilter(ChoiceListFilter):
    title = "time in review"
    parameter_name = "waiting"

    def choices_for(self, request):
        return [(key, f"Over {duration_display(age)}") for key, age in WAITING.items()]

    def filter(self, request, queryset, value):
        return queryset.filter(review_required_since__lte=timezone.now() - WAITING[value])


class AccountStatusFilter(ChoiceListFilter):
    title = "account status"
    parameter_name = "account_status"

    def choices_for(self, request):
        return AccountStatus.choices

    def filter(self, request, queryset, value):
        return queryset.filter(account__status=value)
