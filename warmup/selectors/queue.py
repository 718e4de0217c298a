"""Reads of the review side: the queue, one item's history. The admin, the review API and
the analytics share these."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from django.db.models import (
    CharField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce

from reviews.models import ReviewItem, ReviewLog
from warmup.models import PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.selectors.filters import ReviewQueueFilter

QUEUE_ORDER = ("-escalation_level", "review_required_since", "id")


def review_queue(*, with_step: bool = True) -> QuerySet[ReviewItem]:
    """Every phase in review: highest escalation level first, then oldest in review, with
    what a row shows joined. `with_step=False` leaves out the plan step (the template), for a
    caller that shows none: one join fewer is a few milliseconds less of planning for every
    page at a million phases (6 tables take PostgreSQL 4-5 ms to plan, 5 about 1)."""
    related = ["account", "content", "bot", "review_assignee"]
    return (
        ReviewItem.objects.filter(status=PhaseStatus.REVIEW_REQUIRED)
        .select_related(*related, *(["template"] if with_step else []))
        .order_by(*QUEUE_ORDER)
    )


def review_item_with_history(*, phase_id: int) -> WarmupPhase | None:
    """Any phase (in review or not) with its attempts and its review log, oldest first.

    Both histories are read from the phase's creation on: nothing of a phase happens before it
    exists, and on PostgreSQL the bound lets each read skip the months before it (the history
    tables are partitioned by month, config/partitions.py)."""
    item = (
        ReviewItem.objects.select_related(
            "account", "content", "bot", "review_assignee", "template"
        )
        .filter(pk=phase_id)
        .first()
    )
    if item is None:
        return None
    prefetch_related_objects(
        [item],
        Prefetch(
            "attempts",
            queryset=PhaseAttempt.objects.filter(claimed_at__gte=item.created_at)
            .select_related("bot")
            .order_by("number"),
        ),
        Prefetch(
            "review_logs",
            queryset=ReviewLog.objects.filter(created_at__gte=item.created_at)
            .select_related("actor_user", "actor_bot")
            .order_by("created_at", "id"),
        ),
    )
    return item


def review_selection(data, *, user=None) -> ReviewQueueFilter:
    """The queue narrowed by `data` (the queue's filters by name, in their own words: see
    warmup.selectors.filters), bound: `.is_valid()` and `.errors` say whether the values hold, `.qs`
    is the selection in queue order. `user` is who `assignee=me` means."""
    return ReviewQueueFilter(data, queryset=review_queue(), request=SimpleNamespace(user=user))


@dataclass(frozen=True)
class Left:
    """A shown item that left the queue: what was done to it last, and by whom."""

    phase_id: int
    action: str  # a ReviewAction value ("" if its log says nothing)
    by: str  # the reviewer's username, the bot's name, or "" for the system


@dataclass(frozen=True)
class QueueChanges:
    left: list[Left]  # of the shown items, those no longer in review
    new: int  # items of the selection that entered review since, at most `cap` + 1


def queue_changes(
    selection: QuerySet, *, shown: Iterable[int], since: datetime, cap: int = 99
) -> QueueChanges:
    """What changed under a page of the queue since it was drawn at `since`: which of its
    `shown` items left review (someone resolved them), with the last action and its actor, and
    how many items of `selection` (the page's filtered queue) came in since. One query, a
    UNION ALL of two indexed reads: the shown ids by primary key (with the last log row of each
    that left, through the log's chain index) and the new items through the queue's partial
    index; at most `cap` + 1 new ones are read."""
    shown = list(shown)
    last = ReviewLog.objects.filter(phase=OuterRef("pk")).order_by("-id")
    columns = ("pk", "status", "last_action", "last_user", "last_bot")
    left = (
        ReviewItem.objects.filter(pk__in=shown)
        .exclude(status=PhaseStatus.REVIEW_REQUIRED)
        .annotate(
            last_action=Subquery(last.values("action")[:1]),
            last_user=Subquery(last.values("actor_user__username")[:1]),
            last_bot=Subquery(last.values("actor_bot__name")[:1]),
        )
        .order_by()
        .values_list(*columns)
    )
    nothing = Value(None, output_field=CharField())
    new = (
        selection.filter(review_required_since__gt=since)
        .exclude(pk__in=shown)
        .annotate(last_action=nothing, last_user=nothing, last_bot=nothing)
        .order_by()
        .values_list(*columns)
    )
    gone, new_count = [], 0
    for pk, status, action, user, bot in left.union(new, all=True)[: len(shown) + cap + 1]:
        if status == PhaseStatus.REVIEW_REQUIRED:
            new_count += 1
        else:
            gone.append(Left(phase_id=pk, action=action or "", by=user or bot or ""))
    return QueueChanges(
        left=sorted(gone, key=lambda one: one.phase_id), new=min(new_count, cap + 1)
    )


# --- An item's neighbours in the queue --------------------------------------------------------


@dataclass(frozen=True)
class Neighbours:
    """The items just before and after a place in a (filtered) queue, by id (None at an end)."""

    previous: int | None
    next: int | None


def queue_place(item: WarmupPhase) -> tuple[int, datetime] | None:
    """Where `item` stands (or stood) in the queue's order: its escalation level and when it
    entered review. A resolved item keeps the place it left, from its resolution's log row
    (`item.review_logs`, as `review_item_with_history` reads them), the way an undo gives it
    back; None for an item that was never in review."""
    if item.review_required_since is not None:
        return item.escalation_level, item.review_required_since
    resolved = [log for log in item.review_logs.all() if log.time_in_review is not None]
    if not resolved:
        return None
    last = max(resolved, key=lambda log: (log.created_at, log.pk))
    return last.escalation_level, last.created_at - last.time_in_review


def queue_neighbours(
    selection: QuerySet, *, phase_id: int, level: int, since: datetime
) -> Neighbours:
    """The items of `selection` (the queue, filtered as the list is) just before and just after
    the place (`level`, `since`, `phase_id`) in the queue's order, QUEUE_ORDER; the item itself
    need not be in the selection any more. One query: four keyset probes of the queue's index
    (the same level past the place, else the nearest level beyond), one row each; a page of
    the list costs the same wherever the item stands."""
    base = selection.order_by()
    backwards = ("escalation_level", "-review_required_since", "-id")  # QUEUE_ORDER reversed

    def first(queryset, order):
        return Subquery(queryset.order_by(*order).values("pk")[:1])

    same_after = base.filter(escalation_level=level, review_required_since__gte=since).filter(
        Q(review_required_since__gt=since) | Q(id__gt=phase_id)
    )
    same_before = base.filter(escalation_level=level, review_required_since__lte=since).filter(
        Q(review_required_since__lt=since) | Q(id__lt=phase_id)
    )
    # QUEUE_ORDER puts higher levels first: after the place come the lower levels (the
    # highest of them first), before it the higher ones (the nearest level's last first).
    lower = base.filter(escalation_level__lt=level)
    higher = base.filter(escalation_level__gt=level)
    row = (  # read beside the item's own row, by primary key (ordered by it: no join)
        WarmupPhase.objects.filter(pk=phase_id)
        .order_by("pk")
        .values_list(
            Coalesce(first(same_before, backwards), first(higher, backwards)),
            Coalesce(first(same_after, QUEUE_ORDER), first(lower, QUEUE_ORDER)),
        )
        .first()
    )
    return Neighbours(*(row or (None, None)))
