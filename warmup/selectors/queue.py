"""Reads of the review side: the queue, one item's history. The admin, the review API and
the analytics share these."""

from __future__ import annotations

from types import SimpleNamespace

from django.db.models import Prefetch, QuerySet

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
    """Any phase (in review or not) with its attempts and its review log, oldest first."""
    return (
        ReviewItem.objects.select_related(
            "account", "content", "bot", "review_assignee", "template"
        )
        .prefetch_related(
            Prefetch(
                "attempts",
                queryset=PhaseAttempt.objects.select_related("bot").order_by("number"),
            ),
            Prefetch(
                "review_logs",
                queryset=ReviewLog.objects.select_related("actor_user", "actor_bot").order_by(
                    "created_at", "id"
                ),
            ),
        )
        .filter(pk=phase_id)
        .first()
    )


def review_selection(data, *, user=None) -> ReviewQueueFilter:
    """The queue narrowed by `data` (the queue's filters by name, in their own words: see
    warmup.selectors.filters), bound: `.is_valid()` and `.errors` say whether the values hold, `.qs`
    is the selection in queue order. `user` is who `assignee=me` means."""
    return ReviewQueueFilter(data, queryset=review_queue(), request=SimpleNamespace(user=user))
