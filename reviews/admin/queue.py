"""The review console in the admin: the queue (phases in review, most escalated and longest
waiting first) with bulk actions, and the item page with its failure, attempts, review
timeline and the actions allowed now.

Every action calls a review service; nothing here writes a phase. Bulk actions ask first
through `config.admin.confirm_action`; the item page posts to one small view per action.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q
from django.http import Http404, HttpResponseRedirect, QueryDict
from django.urls import path, reverse
from django.utils.html import format_html, urlize
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from config.admin import (
    CONFIRM_TEMPLATE,
    BoundedChangeList,
    ConfirmForm,
    Outcome,
    ReadOnlyAdmin,
    RefuseUnpermittedActions,
    confirm_action,
)
from config.text import age_display
from reviews.admin import filters, live, queue_csv
from reviews.admin.forms import AssignForm, NoteForm, RecategorizeForm, ResolutionForm
from reviews.models import ReviewItem
from reviews.permissions import can_assign_to_others, can_manage_accounts, can_resolve_reviews
from warmup.domain.actors import Actor
from warmup.domain.choices import (
    AUTOMATED_RESOLUTIONS,
    FailureDecision,
    ReasonCode,
    ResolutionMethod,
    ReviewAction,
)
from warmup.domain.errors import (
    DomainError,
    NotClaimable,
    Refusal,
    refusal_group_words,
    refusal_words,
)
from warmup.domain.policy import policy_for
from warmup.domain.text import REACTIVATE_BY_A_LEAD, action_effect, no_retry_words
from warmup.models import FailureCategory, FailureSignature, PhaseStatus
from warmup.selectors import analytics, queue
from warmup.selectors.filters import NO_ROW, ReviewQueueFilter
from warmup.selectors.returns import Return, returns_of
from warmup.services.resolutions import (
    RESOLUTIONS,
    resolution_preview,
    resolution_refusal,
    review_resolve,
    reviews_resolve_in_batches,
)
from warmup.services.review import (
    review_assign,
    review_comment,
    review_recategorize,
    reviews_assign,
)

LEVEL_COLOURS = {0: "#4b5563", 1: "#a16207", 2: "#c2410c", 3: "#991b1b"}


def why_not(exc: DomainError) -> str:
    """A refusal in the words of the queue, chosen by its code: what happened to the item,
    what to do."""
    words = refusal_words(exc)
    if exc.refusal == Refusal.NOT_IN_REVIEW:
        return f"{words} (resolved by someone else)"
    return words


def describe(item: ReviewItem) -> str:
    failure = item.get_last_failure_category_display() or "held by a reviewer"
    return (
        f"{item.account} \N{MIDDLE DOT} {item.template.name} \N{MIDDLE DOT} {failure} "
        f"\N{MIDDLE DOT} {age_display(item.review_required_since)} in review"
    )


# --- What a reviewer can do to an item ---------------------------------------------------


@dataclass(frozen=True)
class QueueAction:
    """One thing a reviewer does to an item, in bulk on the queue and by button on the page."""

    label: str  # "Resume automation"
    title: (
        str  # the confirmation page's, in the present tense: "Resume automation for {count} {noun}"
    )
    done: str  # "Resumed", for the summary
    form: type[forms.Form]
    run: Callable[[int, Actor, dict], object]  # (phase id, actor, form data)
    method: str = ""  # the resolution method, for resolutions
    # The whole selection at once, set-based: (phase ids, actor, form data) -> a result with
    # `changed` ids and `unchanged` {id: DomainError}. Resolutions have one by their method.
    run_many: Callable | None = None
    permission: str = "resolve"  # the admin's has_<permission>_permission offers it
    button: str = ""  # the confirmation's button, when not the label

    def apply(self, request, phase_id: int, data: dict) -> None:
        self.run(phase_id, Actor.for_user(request.user), data)

    def apply_many(self, request, items: list, data: dict) -> Outcome:
        """The whole selection at once: a resolution is one batch (`reviews_resolve_in_batches`),
        written set-based and undone by its batch id; an assignment one `reviews_assign`."""
        actor = Actor.for_user(request.user)
        ids = [item.pk for item in items]
        if self.run_many is not None:
            result = self.run_many(ids, actor, data)
        else:
            result = reviews_resolve_in_batches(
                phase_ids=ids,
                method=self.method,
                reason_code=data["reason_code"],
                note=data["note"],
                actor=actor,
            )
        by_id = {item.pk: item for item in items}
        said = ""
        if result.changed and self.method:
            said = BATCH_SAID.format(batch=result.batch, user=request.user.get_username())
        return Outcome(
            changed=[by_id[pk] for pk in result.changed],
            refused=[(by_id[pk], why_not(exc)) for pk, exc in result.unchanged.items()],
            said=said,
        )


def _resolver(method: str) -> Callable:
    def run(phase_id, actor, data):
        review_resolve(
            phase_id=phase_id,
            method=method,
            reason_code=data["reason_code"],
            note=data["note"],
            actor=actor,
        )

    return run


ACTIONS: dict[str, QueueAction] = {
    "resume": QueueAction(
        "Resume automation",
        "Resume automation for {count} {noun}",
        "Resumed",
        ResolutionForm,
        _resolver(ResolutionMethod.RESUME),
        ResolutionMethod.RESUME,
    ),
    "retry": QueueAction(
        "Retry now",
        "Retry {count} {noun} now",
        "Retried",
        ResolutionForm,
        _resolver(ResolutionMethod.RETRY),
        ResolutionMethod.RETRY,
    ),
    "complete": QueueAction(
        "Mark completed",
        "Mark {count} {noun} completed by hand",
        "Completed",
        ResolutionForm,
        _resolver(ResolutionMethod.COMPLETE),
        ResolutionMethod.COMPLETE,
    ),
    "skip": QueueAction(
        "Skip",
        "Skip {count} {noun}",
        "Skipped",
        ResolutionForm,
        _resolver(ResolutionMethod.SKIP),
        ResolutionMethod.SKIP,
    ),
    "assign_to_me": QueueAction(
        "Assign to me",
        "Assign {count} {noun} to me",
        "Assigned to you:",
        ConfirmForm,
        lambda phase_id, actor, data: review_assign(
            phase_id=phase_id, assignee=actor.user, actor=actor
        ),
    ),
    "assign_to": QueueAction(
        "Assign to\N{HORIZONTAL ELLIPSIS}",
        "Assign {count} {noun} to a reviewer",
        "Assigned to {assignee}:",
        AssignForm,
        lambda phase_id, actor, data: review_assign(
            phase_id=phase_id, assignee=data["assignee"], actor=actor
        ),
        run_many=lambda phase_ids, actor, data: reviews_assign(
            phase_ids=phase_ids, assignee=data["assignee"], actor=actor
        ),
        permission="assign",  # a review lead's: a reviewer assigns to themself
        button="Assign",
    ),
    "unassign": QueueAction(
        "Unassign",
        "Unassign {count} {noun}",
        "Unassigned",
        ConfirmForm,
        lambda phase_id, actor, data: review_assign(phase_id=phase_id, assignee=None, actor=actor),
    ),
    "recategorize": QueueAction(
        "Recategorise",
        "Recategorise {count} {noun}",
        "Recategorised",
        RecategorizeForm,
        lambda phase_id, actor, data: review_recategorize(
            phase_id=phase_id, category=data["category"], note=data["note"], actor=actor
        ),
    ),
    "comment": QueueAction(
        "Comment",
        "Comment on {count} {noun}",
        "Commented on",
        NoteForm,
        lambda phase_id, actor, data: review_comment(
            phase_id=phase_id, note=data["note"], actor=actor
        ),
    ),
}
BULK = (
    "assign_to_me",
    "assign_to",
    "unassign",
    "recategorize",
    "resume",
    "retry",
    "complete",
    "skip",
)


BATCH_SAID = (
    "Batch {batch}; to undo it: manage.py resolve_reviews --undo {batch} --user {user} "
    '--note "why".'
)


def _bulk_action(name: str):
    """The queue's bulk action for ACTIONS[name], asking first unless there is nothing to
    fill in. A resolution acts on the whole selection at once."""
    spec = ACTIONS[name]

    many = bool(spec.method or spec.run_many)

    def apply(modeladmin, request, selection, data):
        if many:
            return spec.apply_many(request, selection, data)
        spec.apply(request, selection.pk, data)
        return None

    apply.__name__ = name
    asks = bool(spec.form.base_fields)
    label = spec.label.removesuffix("\N{HORIZONTAL ELLIPSIS}")
    return confirm_action(
        description=label + ("\N{HORIZONTAL ELLIPSIS}" if asks else ""),
        title=spec.title,
        button=spec.button or label,
        done=spec.done,
        noun=("item", "items"),
        form_class=spec.form,
        permissions=[spec.permission],
        describe=describe,
        explain=why_not,
        gone_reason="no longer in review (resolved by someone else)",
        ask=asks,
        many=many,
        load=_named_only if spec.method else None,
        prepare=_suggesting(spec.method) if spec.method else None,
        template=RESOLUTION_CONFIRM_TEMPLATE if spec.method else CONFIRM_TEMPLATE,
    )(apply)


RESOLUTION_CONFIRM_TEMPLATE = "admin/reviews/reviewitem/confirm_resolution.html"


def _suggesting(method: str) -> Callable:
    """What a resolution's confirmation page shows of what worked before for the selection,
    with the reason of the best such resolution of `method` chosen: of the selection's
    signature when it has one, else of its category when it has one, else nothing."""

    def prepare(queryset) -> dict:
        preview = preview_words(queryset, method)
        kind = selection_kind(queryset)
        if kind is None:
            return {"suggestions": [], "mixed": True, "preview": preview}
        suggestions = suggestions_of(**kind)
        best = analytics.best_suggestion(suggestions, method=method)
        # A completion or a skip has no outcome to rank it by (a bot's next try cannot prove
        # it): its reason is the one most used with it before for this failure.
        usual = None
        if best is None and method not in AUTOMATED_RESOLUTIONS:
            mine = [entry for entry in suggestions if entry["method"] == method]
            usual = max(mine, key=lambda entry: entry["count"], default=None)
        chosen = best or usual
        category = FailureCategory(kind["category"]).label if kind["category"] else ""
        return {
            "suggestions": suggestions,
            "min_decided": analytics.SUGGESTION_MIN_DECIDED,
            "suggestions_for": suggestions_scope(suggestions, category),
            "suggested": best,
            "usual": usual,
            "preview": preview,
            "initial": {"reason_code": chosen["reason_code"]} if chosen else None,
        }

    return prepare


def preview_words(queryset, method: str) -> dict:
    """What resolving the selection with `method` will do, said before anything is written
    (`resolution_preview`): "2 of 3 items will be resumed" and, per refusal, how many will be
    left as they are and why."""
    tally = resolution_preview(list(queryset.order_by().values_list("pk", flat=True)), method)
    done = tally.pop("resolved", 0)
    total = done + sum(tally.values())
    verb = RESOLVED_WORDS.get(method, method)
    if total == 1:
        said = f"The item will be {verb}." if done else f"The item will not be {verb}."
    elif done == total:
        said = f"All {total} items will be {verb}."
    elif not done:
        said = f"None of the {total} items will be {verb}."
    else:
        said = f"{done} of {total} items will be {verb}."
    refused = [(n, refusal_group_words(code)) for code, n in tally.most_common()]
    return {"said": said, "refused": refused}


def selection_kind(queryset) -> dict | None:
    """The failure a selection shares, as `suggestions_of` takes it: its signature (None when
    its items have several), category and plan step (None when several); None when its items
    failed in different categories. One query."""
    shared = queryset.order_by().aggregate(
        signatures=Count("review_signature", distinct=True),
        unsigned=Count("pk", filter=Q(review_signature__isnull=True)),
        categories=Count("last_failure_category", distinct=True),
        types=Count("phase_type", distinct=True),
        signature=Max("review_signature"),
        category=Max("last_failure_category"),
        phase_type=Max("phase_type"),
    )
    if shared["categories"] != 1:
        return None
    one_signature = shared["signatures"] == 1 and not shared["unsigned"]
    return {
        "signature": shared["signature"] if one_signature else None,
        "category": shared["category"],
        "phase_type": shared["phase_type"] if shared["types"] == 1 else None,
    }


def _named_only(queryset):
    """A resolution's selection as `apply_many` and the summary read it: the id and what an
    item's name shows. The list's joins and plan steps, read for 2,000 items, were a third
    of the request."""
    return (
        queryset.select_related(None)
        .prefetch_related(None)
        .select_related("account")
        .only("order", "phase_type", "account__platform", "account__username")
    )


# --- The queue -----------------------------------------------------------------------------

REASON_CHARS = 60  # of a failure reason on the queue's row; the whole of it is its tooltip


class QueueChangeList(BoundedChangeList):
    """The queue's list: each row's link made from one reversed address rather than one
    `reverse()` per row (the list pays for every microsecond fifty times), and with the list's
    filters added once: Django's `add_preserved_filters` resolves the address again for every
    row of a filtered list, so the rows get the filters already in their address and an empty
    set to add."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.row_filters, self.preserved_filters = self.preserved_filters, ""

    # What a row shows (ReviewItemAdmin.list_display, the checkbox's label, the level badge)
    # and nothing more: a page builds fifty of each, and a failure's details, the content and
    # the rest of the account were most of what it read.
    ROW_FIELDS = (
        "order",
        "phase_type",
        "status",
        "template_id",
        "last_failure_category",
        "last_failure_reason",
        "retry_count",
        "review_required_since",
        "escalation_level",
        "review_signature_id",
        "account__platform",
        "account__username",
        "bot__name",
        "review_assignee__username",
    )

    def get_queryset(self, request, exclude_parameters=None):
        rows = super().get_queryset(request, exclude_parameters)
        return (
            rows.select_related(None)
            .select_related("account", "bot", "review_assignee")
            .only(*self.ROW_FIELDS)
        )

    def get_results(self, request):
        super().get_results(request)
        if not self.multi_page and not self.show_all:
            # One page: Django reads the whole filtered queue with no LIMIT, and a filter the
            # planner misjudges (items on hold) had it sort thousands of guessed rows. A page's
            # LIMIT lets PostgreSQL stop; none is read when the count found none.
            limit = self.list_per_page if self.result_count else 0
            self.result_list = self.queryset[:limit]
        # Which rows came back after a resolution: one query for the page, not one per row.
        rows = list(self.result_list)
        came_back = returns_of(row.pk for row in rows)
        for row in rows:
            row.came_back = came_back.get(row.pk)
        self.result_list = rows

    def url_for_result(self, result):
        if not hasattr(self, "_change_url"):
            marker = "0"
            url = add_preserved_filters(
                {"preserved_filters": self.row_filters, "opts": self.opts},
                super().url_for_result(type(result)(pk=int(marker))),
            )
            self._change_url = url.rsplit(f"/{marker}/", 1)
        head, tail = self._change_url
        return f"{head}/{result.pk}/{tail}"


@admin.register(ReviewItem)
class ReviewItemAdmin(RefuseUnpermittedActions, ReadOnlyAdmin):
    list_display = (
        "account",
        "phase",
        "failure",
        "reason",
        "retries",
        "in_review",
        "assignee",
        "last_bot",
    )
    list_display_links = ("account",)
    list_filter = filters.queue_list_filters()  # one per filter of warmup.selectors.filters
    search_fields = ("account__username", "last_failure_reason")
    search_help_text = "Username or failure reason"
    list_per_page = 50
    show_full_result_count = False  # one COUNT of the queue, not a second one of all phases
    ordering = queue.QUEUE_ORDER
    actions = [_bulk_action(name) for name in BULK]
    change_form_template = "admin/reviews/reviewitem/item.html"

    def get_queryset(self, request):
        # The same queue, in the same order, as the review API. The plan steps (a handful of
        # rows) come in a query of their own: joined as a sixth table, they cost PostgreSQL
        # 4-5 ms of planning for every page at a million phases, the query for them 0.3 ms.
        return queue.review_queue(with_step=False).prefetch_related("template")

    def get_object(self, request, object_id, from_field=None):
        # Any phase opens, in review or not: a link to a resolved item (from a notification or
        # a bookmark) shows what happened to it.
        if not str(object_id).isascii() or not str(object_id).isdigit():
            return None
        # Read once per request: the item page asks for it, then Django's change view again.
        cached = getattr(request, "review_item", None)
        if cached is None or cached.pk != int(object_id):
            cached = queue.review_item_with_history(phase_id=int(object_id))
            request.review_item = cached
        return cached

    def has_resolve_permission(self, request):
        return can_resolve_reviews(request.user)

    def has_assign_permission(self, request):
        """Assign items to any reviewer: a review lead's (a reviewer assigns to themself)."""
        return can_resolve_reviews(request.user) and can_assign_to_others(request.user)

    def changelist_view(self, request, extra_context=None):
        # The queue filtered to one incident says which, and offers to resolve it whole (with
        # the address's other filters: the confirmation resolves what the reviewer sees).
        signature = request.GET.get("signature", "")
        known = FailureSignature.objects.filter(pk=signature).first() if signature else None
        if known is not None:
            query = request.GET.copy()
            for name in ("p", "o", "q", "e", "_changelist_filters"):
                query.pop(name, None)
            resolve = reverse("admin:reviews_incident_resolve", args=[known.key])
            extra_context = {
                **(extra_context or {}),
                "incident": known,
                "incident_resolve_url": f"{resolve}?{query.urlencode()}",
                "can_resolve": self.has_resolve_permission(request),
            }
        since = live.drawn_at()  # before the list is read: nothing that comes in is missed
        response = super().changelist_view(request, extra_context=extra_context)
        cl = getattr(response, "context_data", {}).get("cl")
        if cl is not None:
            shown = [item.pk for item in cl.result_list]
            response.context_data["live_url"] = live.poll_url(
                "admin:reviews_reviewitem_live", request, shown=shown, since=since
            )
            response.context_data["poll_seconds"] = live.POLL_SECONDS
            csv_url = reverse("admin:reviews_reviewitem_csv")
            query = queue_csv.csv_query(request)
            response.context_data["csv_url"] = f"{csv_url}?{query}" if query else csv_url
        return response

    def get_changelist(self, request, **kwargs):
        return QueueChangeList

    def action_checkbox(self, item):
        # Django's own renders a form widget through the template engine for every row; this
        # is the same markup, written once.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" '
            'aria-label="Select this object for an action - {}">',
            helpers.ACTION_CHECKBOX_NAME,
            item.pk,
            str(item),
        )

    # Columns --------------------------------------------------------------------------------

    @admin.display(description="phase", ordering="order")
    def phase(self, item):
        return item.template.name

    @admin.display(description="failure", ordering="last_failure_category")
    def failure(self, item):
        return item.get_last_failure_category_display() or "Held by a reviewer"

    @admin.display(description="reason")
    def reason(self, item):
        text = item.last_failure_reason
        short = text if len(text) <= REASON_CHARS else Truncator(text).chars(REASON_CHARS)
        reason = format_html('<span title="{}">{}</span>', text, short)
        came_back = getattr(item, "came_back", None)
        if came_back is None:
            return reason
        label, said = came_back_words(came_back, naming=False).split(": ", 1)
        return format_html(
            '{}<div class="came-back" title="{}"><span class="came-back-label">{}</span> {}</div>',
            reason,
            came_back_words(came_back),
            label,
            said,
        )

    @admin.display(description="retries")
    def retries(self, item):
        if not item.last_failure_category:
            return f"{item.retry_count}"
        allowed = policy_for(item.last_failure_category, item.template).max_retries
        return f"{item.retry_count} / {allowed}"

    def retries_decided(self, item) -> str:
        """The retries of the item page: out of the max_retries the policy decided with when
        the failure was recorded (kept on its attempt), not today's policy, which may have
        changed since."""
        decided = [a for a in item.attempts.all() if a.max_retries is not None]
        if not decided or not item.last_failure_category:
            return self.retries(item)
        return f"{item.retry_count} / {decided[-1].max_retries}"

    @admin.display(description="in review", ordering="review_required_since")
    def in_review(self, item):
        # The live marker: the queue's poll fills it when someone else resolves the row.
        return format_html('{}<span class="live" id="live-{}"></span>', level_badge(item), item.pk)

    @admin.display(description="assignee", ordering="review_assignee__username")
    def assignee(self, item):
        return item.review_assignee.get_username() if item.review_assignee else "\N{EM DASH}"

    @admin.display(description="last bot", ordering="bot__name")
    def last_bot(self, item):
        return item.bot.name if item.bot else "\N{EM DASH}"

    # The item page ----------------------------------------------------------------------------

    def get_urls(self):
        act = self.admin_site.admin_view(self.item_action_view)
        poll = self.admin_site.admin_view(partial(live.queue_view, self))
        download = self.admin_site.admin_view(partial(queue_csv.queue_csv_view, self))
        return [
            path("live/", poll, name="reviews_reviewitem_live"),
            path("csv/", download, name="reviews_reviewitem_csv"),
            path("<path:object_id>/act/<str:action>/", act, name="reviews_reviewitem_act"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        item = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if item is not None:
            context.update(self.item_context(request, item))
        return super().change_view(request, object_id, form_url, extra_context=context)

    def item_context(self, request, item) -> dict:
        suggestions = suggestions_of(
            signature=item.review_signature_id,
            category=item.last_failure_category,
            phase_type=item.phase_type,
        )
        best = analytics.best_suggestion(suggestions)
        came_back = returns_of([item.pk]).get(item.pk)
        logs = list(item.review_logs.all())
        logs.reverse()  # newest first, like an event history
        return {
            "title": f"{item.account} \N{MIDDLE DOT} {item.template.name}",
            "subtitle": None,
            "item": item,
            "in_review": item.status == PhaseStatus.REVIEW_REQUIRED,
            "badge": level_badge(item),
            "retries": self.retries_decided(item),
            "details": details_html(item.last_failure_details),
            "failure_label": failure_label(item),
            "no_retry": no_retry_display(item),
            "attempts": marked_attempts(item, logs),
            "timeline": logs,
            "came_back": came_back_words(came_back) if came_back else "",
            "suggestions": suggestions,
            "min_decided": analytics.SUGGESTION_MIN_DECIDED,
            "suggestions_for": suggestions_scope(
                suggestions, item.get_last_failure_category_display()
            ),
            "best": best,
            "buttons": self.item_buttons(request, item, best=best),
            "can_act": can_resolve_reviews(request.user),
            **self.item_neighbours(request, item),
        }

    def item_neighbours(self, request, item) -> dict:
        """The addresses of the items before and after this one in the queue it was opened
        from (its filters and search, which the item's address keeps as `_changelist_filters`),
        in the queue's order; '' at an end. The list's column sorting is not followed."""
        place = queue.queue_place(item)
        if place is None:
            return {}
        listed = QueryDict(request.GET.get("_changelist_filters", ""))
        selection = queue_as_listed(request, listed)
        selection, _ = self.get_search_results(request, selection, listed.get("q", ""))
        level, since = place
        found = queue.queue_neighbours(selection, phase_id=item.pk, level=level, since=since)

        def address(pk):
            if pk is None:
                return ""
            return kept_filters(request, reverse("admin:reviews_reviewitem_change", args=[pk]))

        return {"previous_url": address(found.previous), "next_url": address(found.next)}

    def item_buttons(self, request, item, best: dict | None = None) -> list[dict]:
        """The actions for this item, each enabled or with the reason it is not. The resolution
        that worked best before for this kind of failure (`best`) is open, its reason chosen."""
        if not can_resolve_reviews(request.user):
            return []
        in_review = item.status == PhaseStatus.REVIEW_REQUIRED
        account_url = reverse("admin:warmup_account_change", args=[item.account_id])
        # Only a review lead may reactivate an account: a lead gets the action (once, under
        # the first button it stops), anyone else is told who can.
        lead = can_manage_accounts(request.user)
        reactivation_offered = False
        buttons = []
        for name, spec in ACTIONS.items():
            why, link, reactivate = "", "", ""
            if spec.method:
                refusal = resolution_refusal(item, spec.method)
                if refusal is not None:
                    why = why_not(refusal) if in_review else "the item is not in review"
                    link = account_url if isinstance(refusal, NotClaimable) else ""
                    if in_review and refusal.refusal == Refusal.ACCOUNT_NOT_ACTIVE:
                        if not lead:
                            why = REACTIVATE_BY_A_LEAD.format(
                                status=item.account.get_status_display().lower()
                            )
                        elif not reactivation_offered:
                            reactivate = reverse("admin:warmup_account_changelist")
                            reactivation_offered = True
            elif name != "comment" and not in_review:
                why = "the item is not in review"
            if name == "assign_to_me" and item.review_assignee_id == request.user.pk:
                continue
            if name == "unassign" and item.review_assignee_id is None:
                continue
            if spec.permission == "assign" and not self.has_assign_permission(request):
                continue
            initial = {"category": item.last_failure_category} if name == "recategorize" else None
            suggested = bool(best) and spec.method == best["method"] and not why
            if suggested:
                initial = {"reason_code": best["reason_code"]}
            buttons.append(
                {
                    "name": name,
                    "label": spec.label,
                    "form": spec.form(initial=initial, auto_id=f"id_{name}_%s"),
                    "asks": bool(spec.form.base_fields),
                    "why": why,
                    "link": link,
                    "reactivate": reactivate,
                    "effect": action_effect(spec.method) if spec.method else "",
                    "url": kept_filters(
                        request, reverse("admin:reviews_reviewitem_act", args=[item.pk, name])
                    ),
                    "resolution": bool(spec.method),
                    "suggested": suggested,
                    "to": RESOLUTIONS[spec.method].to_status if spec.method else "",
                }
            )
        return buttons

    def item_action_view(self, request, object_id, action):
        """POST one action on one item (a button of the item page), then back to the page."""
        spec = ACTIONS.get(action)
        item = self.get_object(request, object_id)
        if spec is None or item is None:
            raise Http404("No such item or action.")
        if not can_resolve_reviews(request.user):
            raise PermissionDenied
        if spec.permission == "assign" and not self.has_assign_permission(request):
            raise PermissionDenied
        # Back to the item with the queue's filters its address had: its next item is theirs.
        page = kept_filters(request, reverse("admin:reviews_reviewitem_change", args=[item.pk]))
        if request.method != "POST":
            return HttpResponseRedirect(page)
        form = spec.form(request.POST)
        if not form.is_valid():
            errors = "; ".join(
                f"{form.fields[field].label or field}: {' '.join(errs)}"
                if field in form.fields
                else " ".join(errs)
                for field, errs in form.errors.items()
            )
            self.message_user(request, f"{spec.label}: nothing changed. {errors}", messages.ERROR)
            return HttpResponseRedirect(page)
        try:
            spec.apply(request, item.pk, form.cleaned_data)
        except DomainError as exc:
            self.message_user(
                request, f"{spec.label}: nothing changed; {why_not(exc)}.", messages.ERROR
            )
        else:
            self.message_user(
                request,
                f"{spec.done.format(**form.cleaned_data)} {item.account} "
                f"\N{MIDDLE DOT} {item.template.name}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(page)


def kept_filters(request, url: str) -> str:
    """`url` with the queue's filters the item's address keeps (`_changelist_filters`), if any."""
    kept = request.GET.get("_changelist_filters", "")
    return f"{url}?{urlencode({'_changelist_filters': kept})}" if kept else url


def queue_as_listed(request, listed: QueryDict):
    """The queue narrowed by the list filters in `listed` (a queue address's parameters) as
    the list narrows it (reviews.admin.filters): each filter's last value, and a value that is
    not valid or names nobody filters nothing."""
    data = QueryDict(mutable=True)
    for name in ReviewQueueFilter.listed():
        if listed.getlist(name):
            data[name] = listed.getlist(name)[-1]
    selection = queue.review_selection(data, user=request.user)
    selection.is_valid()
    cleaned = getattr(selection.form, "cleaned_data", {})
    junk = [name for name in data if name in selection.errors or cleaned.get(name) == NO_ROW]
    if junk:
        for name in junk:
            del data[name]
        selection = queue.review_selection(data, user=request.user)
    return selection.qs


# --- What worked before, and items that came back -------------------------------------------


def suggestions_of(*, signature: str | None, category: str, phase_type: str | None) -> list[dict]:
    """`suggestions_of_many` of one kind of failure."""
    return suggestions_of_many([analytics.FailureKind(signature, category, phase_type)])[0]


def suggestions_of_many(kinds: list[analytics.FailureKind]) -> list[list[dict]]:
    """For each kind of failure, its past resolutions, best first
    (analytics.suggestions_for_many), each with its method, reason and outcome in words:
    `how`, `why`, `said`, `sure`; no entries for a kind with neither signature
    nor category."""
    asked = [kind for kind in kinds if kind.signature or kind.category]
    found = dict(zip(asked, analytics.suggestions_for_many(asked), strict=True)) if asked else {}
    return [
        [
            {
                **entry,
                "how": ResolutionMethod(entry["method"]).label,
                "why": ReasonCode(entry["reason_code"]).label,
                "said": worked_display(entry),
                "sure": sure_display(entry),
            }
            for entry in found.get(kind, [])
        ]
        for kind in kinds
    ]


def suggestions_scope(suggestions: list[dict], category: str) -> str:
    """What the suggestions are of, for their heading: failures with this item's signature,
    or (when none of those has an outcome yet) of its category."""
    if suggestions and suggestions[0]["scope"] == "signature":
        return "failures like this one"
    return (category or "this kind of failure").lower()


def worked_display(entry: dict) -> str:
    """How a past resolution turned out, in words: 'worked 192 of 1,518 (13 %)', or
    'too few cases (worked 1 of 1)' below the minimum the analytics trust."""
    if entry["success"] is None:
        return "done by hand"
    if not entry["decided"]:
        return "no outcome yet"
    worked = f"worked {entry['success']:,} of {entry['decided']:,}"
    if not entry["enough"]:
        return f"too few cases ({worked})"
    return f"{worked} ({round(entry['rate'] * 100)} %)"


def sure_display(entry: dict) -> str:
    """The lower bound a suggestion is ranked by, in words ('' where it has none)."""
    if entry["lower_bound"] is None:
        return ""
    return (
        f"works at least {entry['lower_bound'] * 100:.0f} % of the time, with 95 % confidence "
        f"({entry['decided']:,} decided cases)"
    )


RESOLVED_WORDS = {
    ResolutionMethod.RESUME: "resumed",
    ResolutionMethod.RETRY: "retried",
    ResolutionMethod.COMPLETE: "completed by hand",
    ResolutionMethod.SKIP: "skipped",
}


def came_back_words(came_back: Return, *, naming: bool = True) -> str:
    """'came back: resumed by rita 2 h ago, failed again the same way', or '... a different
    way: ' and the new signature's title (left out with `naming=False`: the queue's row shows
    the new failure beside it)."""
    said = (
        f"came back: {RESOLVED_WORDS.get(came_back.method, came_back.method)} by "
        f"{came_back.actor} {age_display(came_back.resolved_at)} ago, failed again"
    )
    title = came_back.returned_title if naming else ""
    if came_back.same_way:
        return f"{said} the same way"
    if came_back.same_way is None:  # a resolution from before signatures: the way is unknown
        return f"{said}: {title}" if title else said
    return f"{said} a different way: {title}" if title else f"{said} a different way"


# --- The failure as the item page tells it --------------------------------------------------


def failure_label(item) -> str:
    """The item's last failure's category in words: a hold (no category) is its own entry."""
    if item.last_failure_category:
        return item.get_last_failure_category_display()
    held = item.status == PhaseStatus.REVIEW_REQUIRED or item.last_failure_reason
    return "Held by a reviewer" if held else "none"


def escalating_attempt(item):
    """The attempt whose failure sent the item to review, when that failure is still its last
    one (not a hold since); None otherwise."""
    if not item.last_failure_category or item.status != PhaseStatus.REVIEW_REQUIRED:
        return None
    failed = [a for a in item.attempts.all() if a.failure_category]
    if not failed or failed[-1].decision != FailureDecision.REVIEW_REQUIRED:
        return None
    return failed[-1]


def no_retry_display(item) -> str:
    """Why the failure that sent the item to review skipped (or ran out of) its automatic
    retries, in words; '' when a reviewer held it."""
    attempt = escalating_attempt(item)
    if attempt is None:
        return ""
    try:
        retryable = policy_for(attempt.failure_category, item.template).retryable
    except ValueError:  # a category the policy no longer knows
        retryable = False
    return no_retry_words(
        category=attempt.failure_category,
        reported_retryable=attempt.retryable,
        max_retries=attempt.max_retries,
        category_retryable=retryable,
    )


def category_name(category: str) -> str:
    try:
        return FailureCategory(category).label
    except ValueError:
        return "Held by a reviewer" if not category else category


def marked_attempts(item, logs: list) -> list:
    """The item's attempts, newest first, each recategorised failure marked with the category
    a reviewer gave it (`recategorised_as`); each recategorisation in `logs` gets its
    `changed` words: 'from Network error to Proxy error'."""
    attempts = list(item.attempts.all())
    for log in sorted(logs, key=lambda log: (log.created_at, log.pk)):
        if log.action != ReviewAction.RECATEGORIZED:
            continue
        data = log.data or {}
        log.changed = (
            f"from {category_name(data.get('from', ''))} to {category_name(data.get('to', ''))}"
        )
        before = [
            a
            for a in attempts
            if a.failure_category and a.finished_at and a.finished_at <= log.created_at
        ]
        if before:
            before[-1].recategorised_as = category_name(data.get("to", ""))
    return sorted(attempts, key=lambda a: -a.number)


def level_badge(item) -> str:
    if item.review_required_since is None:
        return "\N{EM DASH}"
    level = item.escalation_level
    return format_html(
        '<span class="level-badge" style="background:{}" title="Escalation level {}">'
        "L{} \N{MIDDLE DOT} {}</span>",
        LEVEL_COLOURS.get(level, LEVEL_COLOURS[3]),
        level,
        level,
        age_display(item.review_required_since),
    )


def details_html(details) -> str:
    """The failure details as indented JSON with the URLs in it clickable (escaped first)."""
    if not details:
        return ""
    text = json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    # urlize escapes the text around the links it makes (autoescape=True).
    linked = mark_safe(urlize(text, autoescape=True))  # noqa: S308
    return format_html('<pre class="failure-details">{}</pre>', linked)
