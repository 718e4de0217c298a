"""Shared admin plumbing: view-only bases and the confirmation-page action helper.

Every admin action that changes state asks first, the way Django's own `delete_selected`
does: the first pass shows the selected objects and a form; the page posts the same selection
back; the second pass calls the service (once for the whole selection, or once per object)
and reports what happened in one summary message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers, widgets
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse

from config.text import plural
from warmup.domain.errors import DomainError

CONFIRM_TEMPLATE = "admin/confirm_action.html"
LISTED_IN_SUMMARY = 10  # names in the summary message before "and N more"
LISTED_ON_PAGE = 100  # objects on the confirmation page before "and N more"
LISTED_OPEN = 20  # of those, listed open below the form; the rest folded ("and N more")


class WarmupAdminSite(admin.AdminSite):
    """The admin site: titled for this system, the review side first (reviewers live in its
    queue), then the warmup domain, then users, groups and tokens."""

    site_header = "Warmup review"
    site_title = "Warmup review"
    index_title = "Review queue and warmup pipeline"
    # The queue needs the width: eight columns and the filters fit 1,400 px without it.
    enable_nav_sidebar = False
    APP_ORDER = ("reviews", "warmup")
    MODEL_ORDER = ("reviewitem", "incident")  # the queue and its incidents before the log

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every list of the site, ours and those of the apps we use (users, tokens, login
        lockouts), is a GuardedAdmin: its lookups and its bulk actions take only what they
        offer, so no address or form of the admin answers with a 500."""
        admin_class = guarded(admin_class or admin.ModelAdmin)
        return super().register(model_or_iterable, admin_class, **options)

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        for app in apps:
            first = {name: i for i, name in enumerate(self.MODEL_ORDER)}
            app["models"].sort(key=lambda m: first.get(m["object_name"].lower(), len(first)))
        rank = {label: i for i, label in enumerate(self.APP_ORDER)}
        return sorted(apps, key=lambda app: rank.get(app["app_label"], len(rank)))


class RefuseUnpermittedActions:
    """ModelAdmin mixin: a POST naming one of this admin's actions that the user may not run is
    refused with 403 (Django itself drops it and says "No action selected")."""

    def changelist_view(self, request, extra_context=None):
        name = request.POST.get("action") if request.method == "POST" else None
        if name and name in self._declared_actions() and name not in self.get_actions(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def _declared_actions(self) -> set[str]:
        return {
            getattr(action, "__name__", action) if callable(action) else action
            for action in self.actions or ()
        }


BIGGEST_ID = 2**63 - 1  # a bigint column; SQLite's integers too


class BoundedChangeListMixin:
    """Django's list, filtered only by what its filters offer: a lookup none of them reads
    (`?note__regex=(`, `?time_in_review__gt=abc`, `?created_at__year=99999` on a list without
    that date hierarchy) is the usual redirect to `?e=1`, as is a value a filter of its own
    cannot take: a number too big for the database (`?id__in=` twenty digits), a date
    hierarchy year out of range (`?created_at__year=9999`), a date the database cannot hold.
    Django catches a bad date or number, not an overflow, and lets any lookup on a field of
    the model through (ModelAdmin.lookup_allowed), whatever the database then makes of it."""

    def get_filters(self, request):
        try:
            filters = super().get_filters(request)
        except (OverflowError, ValueError, DisallowedModelAdminLookup) as exc:
            raise IncorrectLookupParameters(exc) from exc
        lookup_params = filters[2]
        # What is left once the filters took theirs: the date hierarchy's range, or nothing.
        hierarchy = self.date_hierarchy
        made = {f"{hierarchy}__gte", f"{hierarchy}__lt"} if hierarchy else set()
        # ... or a filtered field's value as a plain equality (`?status=review_required`, as
        # links and bookmarks write it): what the filter offers, in other words.
        made |= {f"{path}{eq}" for path in _filtered_fields(self.list_filter) for eq in EQUALS}
        params = self.get_filters_params()
        unread = [
            key
            for key in lookup_params
            if key not in made
            and not any(_popup_lookup(self.model, key, value) for value in params.get(key, []))
        ]
        if unread:
            raise IncorrectLookupParameters(f"No filter of this list reads {unread[0]!r}.")
        for values in lookup_params.values():
            if any(_too_big(value) for value in values):
                raise IncorrectLookupParameters("A number in the address is out of range.")
        return filters

    def get_results(self, request):
        # A value the database or its driver refuses (a date that leaves the years it holds
        # once turned to UTC) fails when the list is read, past the filters' own checks.
        # Requests run in autocommit (no ATOMIC_REQUESTS): no transaction is left broken.
        try:
            return super().get_results(request)
        except (OverflowError, ValueError, DataError) as exc:
            raise IncorrectLookupParameters(exc) from exc


class BoundedChangeList(BoundedChangeListMixin, ChangeList):
    pass


def _too_big(value) -> bool:
    """A digit string (or a list of them, as `__in` lookups hold) beyond BIGGEST_ID."""
    if isinstance(value, list | tuple):
        return any(_too_big(item) for item in value)
    if not isinstance(value, str):
        return False
    number = value.strip().lstrip("+-")
    return number.isascii() and number.isdigit() and int(number) > BIGGEST_ID


class BoundedLookups:
    """ModelAdmin mixin: its list is a BoundedChangeList."""

    def get_changelist(self, request, **kwargs):
        return BoundedChangeList


# --- Every admin of the site: lookups and selections it offers, nothing else -------------

INVALID_SELECTION = (
    "The selection is not valid ({value!r} is not a row of this list): nothing was changed."
)


class GuardedAdmin:
    """ModelAdmin mixin, given to every admin the site registers (WarmupAdminSite.register):

    - an address filters only by what the list's filters (and date hierarchy) offer
      (`lookup_allowed`), and its list is bounded (BoundedChangeListMixin): anything else is
      Django's redirect to `?e=1`;
    - a bulk action's selection must be ids of the model (`?_selected_action=abc`, `1.5`, an
      empty one, twenty digits): otherwise an error message and the list, nothing changed.
    """

    def lookup_allowed(self, lookup, value, request=None):
        list_filter = self.get_list_filter(request) if request is not None else self.list_filter
        names = {self.date_hierarchy, *_filtered_fields(list_filter)}
        names |= {
            item.parameter_name
            for item in list_filter
            if isinstance(item, type) and issubclass(item, admin.SimpleListFilter)
        }
        # A filter's parameters begin with its field (`created_at__gte`, `plan__id__exact`);
        # the list (BoundedChangeListMixin) refuses any such lookup no filter then reads.
        if any(lookup == name or lookup.startswith(f"{name}__") for name in names if name):
            return True
        return _popup_lookup(self.model, lookup, value)

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        if issubclass(changelist, BoundedChangeListMixin):
            return changelist
        return type(f"Bounded{changelist.__name__}", (BoundedChangeListMixin, changelist), {})

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST" and "action" in request.POST:
            wrong = self._wrong_selection(request)
            if wrong is not None:
                self.message_user(
                    request, INVALID_SELECTION.format(value=wrong[:40]), messages.ERROR
                )
                return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)

    def _wrong_selection(self, request) -> str | None:
        """The first selected value that is not an id of this model, if any."""
        if request.POST.get("select_across") == "1":
            return None  # Django acts on the whole filtered list and ignores the selection
        pk = self.model._meta.pk
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                pk.to_python(value)
            except ValidationError:
                return value
            if _too_big(value):
                return value
        return None


EQUALS = ("", "__exact")


def _filtered_fields(list_filter) -> list[str]:
    """The field paths of a list's field filters: `"status"`, `("created_at", SomeFilter)`."""
    paths = []
    for item in list_filter:
        if isinstance(item, list | tuple):
            item = item[0]
        if isinstance(item, str):
            paths.append(item)
    return paths


def _popup_lookup(model, lookup: str, value) -> bool:
    """Whether `lookup=value` is one a ForeignKey's limit_choices_to puts in the address of
    a related-object popup's list (Django allows those whatever the list's filters)."""
    for fk_lookup in model._meta.related_fkey_lookups:
        if callable(fk_lookup):
            fk_lookup = fk_lookup()
        if (lookup, value) in widgets.url_params_from_lookup_dict(fk_lookup).items():
            return True
    return False


def guarded(admin_class: type) -> type:
    """`admin_class` with GuardedAdmin first in its bases (itself if it has it already)."""
    if issubclass(admin_class, GuardedAdmin):
        return admin_class
    return type(
        admin_class.__name__,
        (GuardedAdmin, admin_class),
        {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
    )


class ReadOnlyAdmin(BoundedLookups, admin.ModelAdmin):
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


@dataclass
class Outcome:
    """What an action did to a selection: the objects it changed, those it left alone with
    why (in words), and anything else to say (a batch id, how to undo it)."""

    changed: list = field(default_factory=list)
    refused: list[tuple[object, str]] = field(default_factory=list)
    said: str = ""


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
    explain: Callable[[DomainError], str] = lambda exc: exc.message,
    gone_reason: str = "no longer listed here",
    ask: bool = True,
    many: bool = False,
    load: Callable | None = None,
    prepare: Callable | None = None,
    template: str = CONFIRM_TEMPLATE,
):
    """Turn `apply(modeladmin, request, obj, data)` (one object, through a service) into an
    admin action with a confirmation page. With `many=True`, `apply(modeladmin, request,
    objects, data)` acts on the whole selection at once (a set-based service) and returns an
    `Outcome`.

    `title` and `button` may use {count} and {noun} ("Pause automation for {count} {noun}");
    `done` is the past tense for the summary ("Paused" reads "Paused 2 accounts: a, b."; one
    ending in a colon, "Assigned to you:", reads "Assigned to you: 2 items (a, b)."; it may
    name the form's fields: "Assigned to {assignee}:"). A
    DomainError from `apply` is reported for that object (in the words of `explain`) and the
    others go on; a selected object the page no longer lists (it changed meanwhile) is
    reported as `gone_reason`. With `ask=False` (a form with nothing to fill in) the action
    runs at once. `load(queryset)` narrows what is read of the selection before it is applied
    (the columns `apply` and the summary's names need, say). `prepare(queryset)` gives the
    confirmation page more to show for the selection: a dict added to its context, whose
    "initial" (if any) fills in the form. `template` is the page (one extending
    CONFIRM_TEMPLATE, say). Side effects: only those of `apply`.
    """

    def decorator(apply: Callable) -> Callable:
        @admin.action(description=description, permissions=permissions)
        @wraps(apply)
        def action(modeladmin, request, queryset):
            confirmed = "confirm" in request.POST or not ask
            form = form_class(request.POST if confirmed else None)
            if form.is_bound and form.is_valid():
                # As listed now: applying changes what it holds.
                selected = list(load(queryset) if load else queryset)
                gone = _gone(modeladmin, request, selected)
                if many:
                    outcome = apply(modeladmin, request, selected, form.cleaned_data)
                else:
                    outcome = Outcome()
                    for obj in selected:
                        try:
                            apply(modeladmin, request, obj, form.cleaned_data)
                            outcome.changed.append(obj)
                        except DomainError as exc:
                            outcome.refused.append((obj, explain(exc)))
                outcome.refused += [(obj, gone_reason) for obj in gone]
                said = done.format(**form.cleaned_data)
                _report(modeladmin, request, outcome, done=said, noun=noun)
                return None
            extra = dict(prepare(queryset)) if prepare else {}
            initial = extra.pop("initial", None)
            if initial and not form.is_bound:
                form = form_class(initial=initial)
            _focus_first_to_fill(form)
            count = queryset.count()
            words = {"count": count, "noun": noun[0] if count == 1 else noun[1]}
            shown = list(queryset[:LISTED_ON_PAGE])
            # "Select all N" re-posts itself (the filters are in the address), not N ids: a
            # form of thousands of fields is more than Django accepts.
            across = request.POST.get("select_across") == "1"
            context = {
                **modeladmin.admin_site.each_context(request),
                "title": title.format(**words),
                "intro": intro,
                "objects": [describe(obj) for obj in shown],
                "more": count - len(shown),
                "listed_open": LISTED_OPEN,
                "listed_open_slice": f":{LISTED_OPEN}",
                "folded_slice": f"{LISTED_OPEN}:",
                "folded": max(count - LISTED_OPEN, 0),
                # The list the action was chosen on (filters, search, sorting, page): the
                # action's form posts to its address, and "No, take me back" returns there.
                "back_url": request.get_full_path(),
                "select_across": across,
                "selected": [obj.pk for obj in shown[:1]] if across else [o.pk for o in shown],
                "form": form,
                "action": request.POST.get("action", ""),
                "button": button.format(**words),
                "opts": modeladmin.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                **extra,
            }
            return TemplateResponse(request, template, context)

        return action

    return decorator


def _focus_first_to_fill(form) -> None:
    """The cursor starts in the first field still to fill (the note, when the reason is chosen
    for the reviewer), or the first with an error: a keyboard confirms without tabbing."""
    for name, form_field in form.fields.items():
        empty = not (form.initial.get(name) or form_field.initial)
        if (form.is_bound and name in form.errors) or (not form.is_bound and empty):
            form_field.widget.attrs["autofocus"] = True
            return


def _gone(modeladmin, request, listed_objects: list) -> list:
    """Objects that were selected but the page's queryset no longer holds: they changed since
    the page was drawn (resolved by someone else, say), so the action skipped them."""
    if request.POST.get("select_across") == "1":
        return []
    listed = {str(obj.pk) for obj in listed_objects}
    selected = {value for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)}
    missing = [value for value in selected - listed if value.isascii() and value.isdigit()]
    if not missing:
        return []
    return list(modeladmin.model._default_manager.filter(pk__in=missing[:1000]).order_by("pk"))


def _names(objects) -> str:
    names = ", ".join(str(obj) for obj in objects[:LISTED_IN_SUMMARY])
    if len(objects) > LISTED_IN_SUMMARY:
        names += f" and {len(objects) - LISTED_IN_SUMMARY} more"
    return names


def _report(modeladmin, request, outcome: Outcome, *, done: str, noun: tuple[str, str]) -> None:
    """One message: what changed, then what did not, grouped by why ("Resumed 12 items: ...
    1 not changed: no longer in review (...)"), then the outcome's own words."""
    changed, refused = outcome.changed, outcome.refused
    parts = []
    if changed:
        if done.endswith(":"):  # "Assigned to you: 2 items (a, b)."
            parts.append(f"{done} {plural(len(changed), *noun)} ({_names(changed)}).")
        else:  # "Resumed 2 items: a, b."
            parts.append(f"{done} {plural(len(changed), *noun)}: {_names(changed)}.")
    by_reason: dict[str, list] = {}
    for obj, reason in refused:
        by_reason.setdefault(reason, []).append(obj)
    for reason, objects in by_reason.items():
        parts.append(f"{len(objects)} not changed: {reason.rstrip('.')} ({_names(objects)}).")
    if not changed and not refused:
        parts.append("Nothing was selected.")
    if outcome.said:
        parts.append(outcome.said)
    level = messages.SUCCESS if not refused else messages.WARNING if changed else messages.ERROR
    modeladmin.message_user(request, " ".join(parts), level)
