"""Items that came back: phases in review again after a reviewer resolved them.

Read from the review log, never stored: an item in review came back when a resolution in its
log was followed by a failure escalated to review (or a hold). The latest such resolution is
the one that did not hold; the item came back the same way when that row's signature (what
sent it to review then) is the phase's signature now. Analytics count the same return as that
resolution's failure. An undone batch is no return: the undo takes its resolution back, and
the item did not fail again. Rows are ordered by id, the order a phase's rows were written in
(its chain's order), so a resolution and a failure within one clock tick still count.

Set-based: one query for a page of the queue or for every open incident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery

from reviews.models import ReviewLog
from warmup.domain.choices import RESOLUTION_ACTIONS, ReviewAction
from warmup.models import PhaseStatus, WarmupPhase

RESOLVED = tuple(RESOLUTION_ACTIONS.values())
FAILED_AGAIN = (ReviewAction.ESCALATED, ReviewAction.HELD)  # what sends a phase back to review


@dataclass(frozen=True)
class Return:
    """An item that came back to review after a resolution."""

    phase_id: int
    method: str  # how it was resolved: a ResolutionMethod
    reason_code: str
    actor: str  # who resolved it: a username, a bot's name or "system"
    resolved_at: datetime
    signature: str | None  # what sent it to review before that resolution (None before keys)
    returned_with: str | None  # what sent it back: the phase's signature now
    returned_title: str  # that signature's title ("" without one)

    @property
    def same_way(self) -> bool | None:
        """Whether it failed again the same way; None when the resolution's row has no
        signature (written before signatures were kept) or the phase has none."""
        if self.signature is None or self.returned_with is None:
            return None
        return self.signature == self.returned_with


def _resolutions_that_came_back() -> QuerySet:
    """The outer phase's resolutions that it entered review again after."""
    entered_again = ReviewLog.objects.filter(
        phase_id=OuterRef("phase_id"), action__in=FAILED_AGAIN, id__gt=OuterRef("id")
    )
    return ReviewLog.objects.filter(phase_id=OuterRef("pk"), action__in=RESOLVED).filter(
        Exists(entered_again)
    )


def _returned(phases: QuerySet) -> QuerySet:
    """`phases` narrowed to those in review that came back."""
    return phases.filter(status=PhaseStatus.REVIEW_REQUIRED).filter(
        Exists(_resolutions_that_came_back())
    )


def returns_of(phase_ids: Iterable[int]) -> dict[int, Return]:
    """Of `phase_ids`, the items in review that came back, by phase id, each with the
    resolution that did not hold (one query; none for no ids)."""
    ids = list(phase_ids)
    if not ids:
        return {}
    latest = (
        WarmupPhase.objects.filter(pk__in=ids, status=PhaseStatus.REVIEW_REQUIRED)
        .annotate(
            resolution=Subquery(_resolutions_that_came_back().order_by("-id").values("id")[:1])
        )
        .values("resolution")
    )
    rows = (
        ReviewLog.objects.filter(pk__in=latest)
        .select_related("actor_user", "actor_bot", "phase__review_signature")
        .only(
            "phase_id",
            "resolution_method",
            "reason_code",
            "created_at",
            "signature_id",
            "actor_user__username",
            "actor_bot__name",
            "phase__review_signature_id",
            "phase__review_signature__title",
        )
        .order_by()
    )
    returns = {}
    for row in rows:
        now_signature = row.phase.review_signature
        returns[row.phase_id] = Return(
            phase_id=row.phase_id,
            method=row.resolution_method,
            reason_code=row.reason_code,
            actor=str(row.actor),
            resolved_at=row.created_at,
            signature=row.signature_id,
            returned_with=now_signature.pk if now_signature else None,
            returned_title=now_signature.title if now_signature else "",
        )
    return returns


def returned_counts(signature_keys: Iterable[str]) -> dict[str, int]:
    """For each of `signature_keys`: how many of its items in review came back after an
    earlier resolution (0 for none). One query, through the queue's signature index."""
    keys = list(signature_keys)
    counts = dict.fromkeys(keys, 0)
    if not keys:
        return counts
    rows = (
        _returned(WarmupPhase.objects.filter(review_signature_id__in=keys))
        .order_by()
        .values("review_signature_id")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        counts[row["review_signature_id"]] = row["n"]
    return counts
