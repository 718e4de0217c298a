"""Reads of the review side: the queue, one item's history. The admin, the review API and
the analytics share these."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from reviews.models import ReviewItem, ReviewLog
from warmup.models import PhaseAttempt, PhaseStatus, WarmupPhase

QUEUE_ORDER = ("-escalation_level", "review_required_since", "id")


def review_queue() -> QuerySet[ReviewItem]:
    """Every phase in review: highest escalation level first, then oldest in review."""
    return (
        ReviewItem.objects.filter(status=PhaseStatus.REVIEW_REQUIRED)
        .select_related("account", "content", "bot", "review_assignee", "template")
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
