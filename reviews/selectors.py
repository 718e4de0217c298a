"""Reads of the review side: the queue, one item's history. The admin, the review API and
the analytics share these."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, QuerySet

from reviews.models import ReviewItem, ReviewLog
from warmup.models import PhaseAttempt, PhaseStatus, WarmupPhase

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


def review_selection(
    *,
    categories: list[str] | None = None,
    phase_type: str | None = None,
    platform: str | None = None,
    waiting_since: datetime | None = None,
    escalation_level: int | None = None,
    assignee: str | None = None,
    account: tuple[str, str] | None = None,
    bot: str | None = None,
    ids: list[int] | None = None,
) -> QuerySet[ReviewItem]:
    """The queue narrowed by an operator's selection, in queue order. `assignee` is a username
    or "none"; `account` is (platform, username); `waiting_since`: in review since then or
    longer; `bot`: the name of the bot that last held the phase."""
    queue = review_queue()
    if categories:
        queue = queue.filter(last_failure_category__in=categories)
    if phase_type:
        queue = queue.filter(phase_type=phase_type)
    if platform:
        queue = queue.filter(platform=platform)
    if waiting_since is not None:
        queue = queue.filter(review_required_since__lte=waiting_since)
    if escalation_level is not None:
        queue = queue.filter(escalation_level=escalation_level)
    if assignee == "none":
        queue = queue.filter(review_assignee__isnull=True)
    elif assignee:
        queue = queue.filter(review_assignee__username=assignee)
    if account:
        queue = queue.filter(account__platform=account[0], account__username=account[1])
    if bot:
        queue = queue.filter(bot__name=bot)
    if ids is not None:
        queue = queue.filter(pk__in=ids)
    return queue
