"""The incidents page: the review queue grouped by failure signature, one row per incident
(`warmup.selectors.incidents`), and the resolution of a whole incident through the one
resolution path (`warmup.services.resolutions`): a confirmation that says what will happen and
what will be refused before anything is written, then the batch's page with what was done and
an undo.
"""

from __future__ import annotations

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import path, reverse

from config.admin import ReadOnlyAdmin
from reviews.admin import live
from reviews.admin.dashboard import sparkline
from reviews.admin.forms import ResolutionForm
from reviews.admin.queue import suggestions_of_many, suggestions_scope
from reviews.models import Incident, ReviewLog
from reviews.permissions import can_close_breakers, can_resolve_reviews, can_view_reviews
from warmup.domain.actors import Actor
from warmup.domain.choices import HELD, RESOLUTION_ACTIONS, ResolutionMethod, ReviewAction
from warmup.domain.errors import DomainError, refusal_group_words
from warmup.models import PhaseStatus, WarmupPhase
from warmup.selectors.analytics import SUGGESTION_MIN_DECIDED, FailureKind, best_suggestion
from warmup.selectors.incidents import incident, incident_page
from warmup.selectors.queue import review_selection
from warmup.selectors.returns import returned_counts
from warmup.services.breaker import breaker_close, open_breakers
from warmup.services.resolutions import (
    batch_undo_in_batches,
    resolution_preview,
    reviews_resolve_in_batches,
)

PER_PAGE = 25  # incidents on a page, largest first; the page's own reads are per row
# What each resolution does to the items, in the reviewer's words.
WHAT_IT_DOES = {
    ResolutionMethod.RESUME: "back to the scheduler: it assigns content again and bots claim "
    "them as new (retry counts start over)",
    ResolutionMethod.RETRY: "claimable by bots at once, with the content they have",
    ResolutionMethod.COMPLETE: "marked done by a reviewer; the accounts' next phases unlock",
    ResolutionMethod.SKIP: "skipped; the accounts' next phases unlock",
}
SESSION_KEY = "incident-batches"  # the refusals of the reviewer's recent batches, by batch id


class IncidentResolutionForm(ResolutionForm):
    method = forms.ChoiceField(
        label="Resolution",
        choices=ResolutionMethod.choices,
        widget=forms.RadioSelect,
    )
    field_order = ["method", "reason_code", "note"]


class UndoForm(forms.Form):
    note = forms.CharField(
        max_length=5000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Why the batch is undone: written to each item's review log.",
    )


def queue_url(signature: str, query: QueryDict | None = None) -> str:
    """The review queue filtered to one incident (and to the filters in `query`)."""
    data = (query or QueryDict()).copy()
    data["signature"] = signature
    return f"{reverse('admin:reviews_reviewitem_changelist')}?{data.urlencode()}"


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    """Read-only: an incident changes by resolving its items. Whoever may read the queue may
    read its incidents."""

    def has_module_permission(self, request):
        return can_view_reviews(request.user)

    def has_view_permission(self, request, obj=None):
        return can_view_reviews(request.user)

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path("", view(self.incidents_view), name="reviews_incident_changelist"),
            path("live/", view(partial(live.incidents_view, self)), name="reviews_incident_live"),
            path("batch/<uuid:batch>/", view(self.batch_view), name="reviews_incident_batch"),
            path("batch/<uuid:batch>/undo/", view(self.undo_view), name="reviews_incident_undo"),
            path(
                "breaker/<int:breaker_id>/close/",
                view(self.close_breaker_view),
                name="reviews_incident_close_breaker",
            ),
            path(
                "<str:signature>/resolve/",
                view(self.resolve_view),
                name="reviews_incident_resolve",
            ),
            path("<str:signature>/", view(self.open_view), name="reviews_incident_change"),
        ]

    # Pages ------------------------------------------------------------------------------------

    def incidents_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        since = live.drawn_at()
        number = _page_number(request.GET.get("p"))
        incidents, total = incident_page(offset=(number - 1) * PER_PAGE, limit=PER_PAGE)
        if not incidents and total:  # past the last page (incidents closed meanwhile)
            last = -(-total // PER_PAGE)
            return HttpResponseRedirect(f"{reverse('admin:reviews_incident_changelist')}?p={last}")
        came_back = returned_counts(one.signature for one in incidents)
        breakers = list(open_breakers())
        breaker_of = {breaker.signature_id: breaker for breaker in breakers}
        suggested = _suggested(incidents)
        rows = [
            {
                "incident": one,
                "trend": sparkline(one.trend),
                "queue_url": queue_url(one.signature),
                "resolve_url": reverse("admin:reviews_incident_resolve", args=[one.signature]),
                "suggested": suggested[one.signature],
                "breaker": breaker_of.get(one.signature),
                "came_back": came_back.get(one.signature, 0),
            }
            for one in incidents
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Incidents",
            "rows": rows,
            "pages": _pages(number, total),
            "breakers": [
                {
                    "breaker": breaker,
                    "scope": scope_words(breaker),
                    "queue_url": queue_url(breaker.signature_id),
                    "close_url": reverse("admin:reviews_incident_close_breaker", args=[breaker.pk]),
                }
                for breaker in breakers
            ],
            "close_form": ResolutionForm(),
            "can_close": can_close_breakers(request.user),
            "can_resolve": can_resolve_reviews(request.user),
            "opts": self.model._meta,
            "live_url": live.poll_url(
                "admin:reviews_incident_live",
                request,
                shown=[row["incident"].signature for row in rows],
                since=since,
            ),
            "poll_seconds": live.POLL_SECONDS,
        }
        return TemplateResponse(request, "admin/reviews/incidents/list.html", context)

    def close_breaker_view(self, request, breaker_id):
        back = reverse("admin:reviews_incident_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if not can_close_breakers(request.user):
            raise PermissionDenied
        form = ResolutionForm(request.POST)
        if not form.is_valid():
            self.message_user(
                request, "The breaker is still open: give a reason and a note.", messages.ERROR
            )
            return HttpResponseRedirect(back)
        try:
            breaker = breaker_close(
                breaker_id=breaker_id,
                note=form.cleaned_data["note"],
                reason_code=form.cleaned_data["reason_code"],
                actor=Actor.for_user(request.user),
            )
        except DomainError as exc:
            self.message_user(request, f"Nothing changed: {exc.message}", messages.ERROR)
            return HttpResponseRedirect(back)
        self.message_user(
            request,
            f"Closed the breaker on {breaker.signature.title}: bots may claim "
            f"{scope_words(breaker)} again.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(back)

    def open_view(self, request, signature):
        """An incident's own address opens the queue filtered to it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(queue_url(signature))

    def resolve_view(self, request, signature):
        if not can_resolve_reviews(request.user):
            raise PermissionDenied
        one = incident(signature)
        if one is None:
            raise Http404("No such incident.")
        # The incident's items, narrowed by any of the queue's filters in the address.
        data = request.GET.copy()
        data["signature"] = signature
        selection = review_selection(data, user=request.user)
        if not selection.is_valid():
            self.message_user(request, _errors(selection.errors), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:reviews_incident_changelist"))
        ids = list(selection.qs.values_list("pk", flat=True))
        suggestions = _suggestions(one)
        best = best_suggestion(suggestions)
        initial = (
            {"method": best["method"], "reason_code": best["reason_code"]}
            if best
            else {"method": ResolutionMethod.RESUME}
        )
        form = IncidentResolutionForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid() and ids:
            return self._resolve(request, one, ids, form.cleaned_data)
        previews = {method: resolution_preview(ids, method) for method in ResolutionMethod.values}
        context = {
            **self.admin_site.each_context(request),
            "title": f"Resolve an incident: {len(ids)} item{'s' if len(ids) != 1 else ''}",
            "incident": one,
            "form": form,
            "count": len(ids),
            "outcomes": [
                {
                    "method": label,
                    "value": method,
                    "does": WHAT_IT_DOES[method],
                    "resolved": previews[method]["resolved"],
                    "refused": [
                        (refusal_group_words(code), n)
                        for code, n in previews[method].items()
                        if code != "resolved"
                    ],
                }
                for method, label in ResolutionMethod.choices
            ],
            "suggestions": suggestions,
            "suggestions_for": suggestions_scope(suggestions, one.category),
            "suggested": best,
            "min_decided": SUGGESTION_MIN_DECIDED,
            "queue_url": queue_url(signature, request.GET),
            "narrowed": bool(set(request.GET) - {"signature"}),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/reviews/incidents/resolve.html", context)

    def _resolve(self, request, one, ids: list[int], data: dict):
        try:
            result = reviews_resolve_in_batches(
                phase_ids=ids,
                method=data["method"],
                reason_code=data["reason_code"],
                note=data["note"],
                actor=Actor.for_user(request.user),
            )
        except DomainError as exc:
            self.message_user(request, f"Nothing changed: {exc.message}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        _remember(request, result, signature=one.signature, undo_of=None)
        return HttpResponseRedirect(reverse("admin:reviews_incident_batch", args=[result.batch]))

    def batch_view(self, request, batch):
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = ReviewLog.objects.filter(batch=batch, phase__isnull=False)
        first = rows.select_related("actor_user").order_by("id").first()
        if first is None and str(batch) not in request.session.get(SESSION_KEY, {}):
            raise Http404("No batch with this id.")
        remembered = request.session.get(SESSION_KEY, {}).get(str(batch), {})
        signature = remembered.get("signature") or (first.signature_id if first else None)
        one = incident(signature) if signature else None
        done = rows.count()
        # The undo's rows by their action's index, then the batch they name.
        undone_by = (
            ReviewLog.objects.filter(action=ReviewAction.RESOLUTION_UNDONE)
            .filter(data__undoes_batch=str(batch))
            .values("batch")
            .first()
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Batch {batch}",
            "batch": batch,
            "first": first,
            "incident": one,
            "undo_of": remembered.get("undo_of"),
            "is_resolution": first is not None and first.action in RESOLUTION_ACTIONS.values(),
            "done": done,
            "refused": [
                (refusal_group_words(code), n) for code, n in remembered.get("refused", {}).items()
            ],
            "refused_total": sum(remembered.get("refused", {}).values()),
            "left": (
                WarmupPhase.objects.filter(
                    status=PhaseStatus.REVIEW_REQUIRED, review_signature=signature
                ).count()
                if signature
                else None
            ),
            "queue_url": queue_url(signature) if signature else None,
            "undo_form": UndoForm(),
            "undone_by": undone_by["batch"] if undone_by else None,
            "can_resolve": can_resolve_reviews(request.user),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/reviews/incidents/batch.html", context)

    def undo_view(self, request, batch):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:reviews_incident_batch", args=[batch]))
        if not can_resolve_reviews(request.user):
            raise PermissionDenied
        form = UndoForm(request.POST)
        back = reverse("admin:reviews_incident_batch", args=[batch])
        if not form.is_valid():
            self.message_user(
                request, "Say why the batch is undone: a note is required.", messages.ERROR
            )
            return HttpResponseRedirect(back)
        result = batch_undo_in_batches(
            undo=batch, note=form.cleaned_data["note"], actor=Actor.for_user(request.user)
        )
        first = ReviewLog.objects.filter(batch=batch, phase__isnull=False).first()
        _remember(
            request,
            result,
            signature=first.signature_id if first else None,
            undo_of=str(batch),
        )
        return HttpResponseRedirect(reverse("admin:reviews_incident_batch", args=[result.batch]))


def _page_number(value: str | None) -> int:
    """The page asked for in `?p=` (1, the largest incidents, for anything else)."""
    return int(value) if value and value.isdecimal() and 0 < int(value) < 10**6 else 1


def _pages(number: int, total: int) -> dict:
    """Where the page's rows sit among the open incidents, and the way to the others."""
    first = (number - 1) * PER_PAGE + 1
    last = min(number * PER_PAGE, total)
    here = reverse("admin:reviews_incident_changelist")
    return {
        "first": first,
        "last": last,
        "total": total,
        "previous": f"{here}?p={number - 1}" if number > 1 else None,
        "next": f"{here}?p={number + 1}" if last < total else None,
        "next_count": min(PER_PAGE, total - last),
        "per_page": PER_PAGE,
    }


def scope_words(breaker) -> str:
    """What a breaker stops, in words: 'Set profile bio phases on instagram by bot-3'."""
    words = f"{breaker.phase_type} phases"
    if breaker.platform:
        words += f" on {breaker.get_platform_display()}"
    if breaker.bot_id is not None:
        words += f" by {breaker.bot.name}"
    return words


def _kind(one) -> FailureKind:
    """What an incident's suggestions are of: its signature first, else its category."""
    category = "" if one.category == HELD else one.category
    return FailureKind(one.signature, category, one.phase_type)


def _suggestions(one) -> list[dict]:
    """What worked before for the incident's failure, best first, in words."""
    return suggestions_of_many([_kind(one)])[0]


SUGGESTION_CACHE_SECONDS = 300


def _suggested(incidents) -> dict[str, dict | None]:
    """Per incident's signature: the resolution to offer, or the best with too few cases to
    offer, or None when nothing was tried on it. Kept for five minutes per signature: a
    track record of 90 days moves slowly, and the page is read often during an incident (the
    confirmation page reads it afresh). Those not kept are found together (two queries)."""
    keys = {one.signature: f"incident-suggestion:{one.signature}" for one in incidents}
    kept = cache.get_many(list(keys.values()))
    missing = [one for one in incidents if keys[one.signature] not in kept]
    found = {}
    for one, suggestions in zip(
        missing, suggestions_of_many([_kind(one) for one in missing]), strict=True
    ):
        found[keys[one.signature]] = best_suggestion(suggestions) or (
            suggestions[0] if suggestions else None
        )
    cache.set_many(found, SUGGESTION_CACHE_SECONDS)
    kept.update(found)
    return {signature: kept[key] for signature, key in keys.items()}


def _errors(errors) -> str:
    return " ".join(" ".join(messages_) for messages_ in errors.values())


def _remember(request, result, *, signature: str | None, undo_of: str | None) -> None:
    """Keep what the batch page shows that the log does not: the refusals by reason (the ten
    latest batches of this reviewer's session)."""
    refused: dict[str, int] = {}
    for error in result.unchanged.values():
        code = str(error.refusal) if error.refusal else "refused"
        refused[code] = refused.get(code, 0) + 1
    kept = request.session.get(SESSION_KEY, {})
    kept[str(result.batch)] = {"signature": signature, "refused": refused, "undo_of": undo_of}
    request.session[SESSION_KEY] = dict(list(kept.items())[-10:])
