"""Shared admin plumbing: view-only bases and the confirmation-page action helper.

Every admin action that changes state asks first, the way Django's own `delete_selected`
does: the first pass shows the selected objects and a form; the page posts the same selection
back; the second pass calls the service once per object and reports what happened in one
summary message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from config.text import plural
from warmup.errors import DomainError

CONFIRM_TEMPLATE = "admin/confirm_action.html"
LISTED_IN_SUMMARY = 10  # names in the summary message before "and N more"


class ReadOnlyAdmin(admin.ModelAdmin):
    """A view-only admin: what it shows changes only through the services."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Actions that ask first ------------------------------------------------------------------


class ConfirmForm(forms.Form):
    """A confirmation with nothing to fill in."""


def confirm_action(
    *,
    description: str,
    title: str,
    button: str,
    done: str,
    noun: tuple[str, str],
    form_class: type[forms.Form] = ConfirmForm,
    permissions: list[str] | None = None,
    intro: str = "",
    describe: Callable[[object], str] = str,
):
    """Turn `apply(modeladmin, request, obj, data)` (one object, through a service) into an
    admin action with a confirmation page.

    `title` and `button` may use {count} and {noun} ("Pause automation for {count} {noun}");
    `done` is the past tense for the summary ("Paused"). A DomainError from `apply` is
    reported for that object and the others go on. Side effects: only those of `apply`.
    """

    def decorator(apply: Callable) -> Callable:
        @admin.action(description=description, permissions=permissions)
        @wraps(apply)
        def action(modeladmin, request, queryset):
            form = form_class(request.POST if "confirm" in request.POST else None)
            if form.is_bound and form.is_valid():
                changed, refused = [], []
                for obj in queryset:
                    try:
                        apply(modeladmin, request, obj, form.cleaned_data)
                        changed.append(obj)
                    except DomainError as exc:
                        refused.append((obj, exc.message))
                _report(modeladmin, request, changed, refused, done=done, noun=noun)
                return None
            count = queryset.count()
            words = {"count": count, "noun": noun[0] if count == 1 else noun[1]}
            context = {
                **modeladmin.admin_site.each_context(request),
                "title": title.format(**words),
                "intro": intro,
                "objects": [describe(obj) for obj in queryset],
                "selected": [obj.pk for obj in queryset],
                "form": form,
                "action": request.POST.get("action", ""),
                "button": button.format(**words),
                "opts": modeladmin.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, CONFIRM_TEMPLATE, context)

        return action

    return decorator


def _report(modeladmin, request, changed, refused, *, done: str, noun: tuple[str, str]) -> None:
    """One message for what changed, one error message per object that did not."""
    if changed:
        names = ", ".join(str(obj) for obj in changed[:LISTED_IN_SUMMARY])
        if len(changed) > LISTED_IN_SUMMARY:
            names += f" and {len(changed) - LISTED_IN_SUMMARY} more"
        modeladmin.message_user(
            request, f"{done} {plural(len(changed), *noun)}: {names}.", messages.SUCCESS
        )
    for obj, reason in refused:
        modeladmin.message_user(request, f"Skipped {obj}: {reason}", messages.ERROR)
