"""Items that came back: phases in review again after a reviewer resolved them.

A resolution sets the phase's `last_resolved_at` to its moment (its ReviewLog row's
created_at); an undo gives the phase back the resolution before it (`standing_resolutions`:
an undone batch is no return, the item did not fail again). A phase leaves review only by a
resolution and enters it again only by a failure or a hold, so an item in review with a
`last_resolved_at` came back: the resolution at that moment did not hold. It came back the same
way when that row's signature (what sent it to review then) is the phase's signature now.
Analytics count the same return as that resolution's failure, from the log.

Set-based: two short queries for a page of the queue, one read of a small index for every open
incident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import BigIntegerField, Count, Exists, F, OuterRef, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from reviews.models import ReviewLog
from warmup.domain.choices import RESOLUTION_ACTIONS, ReviewAction
from warmup.models import PhaseStatus, WarmupPhase

RESOLVED = tuple(RESOLUTION_ACTIONS.values())


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


def standing_resolutions() -> QuerySet:
    """Resolution rows that no undo took back (an undo's row names the row it undid, and
    comes after it: the bound lets PostgreSQL skip the months before the resolution)."""
    undone = (
        ReviewLog.objects.filter(
            phase_id=OuterRef("phase_id"),
            action=ReviewAction.RESOLUTION_UNDONE,
            created_at__gte=OuterRef("created_at"),
        )
        .annotate(undoes=Cast(KeyTextTransform("undoes", "data"), BigIntegerField()))
        .filter(undoes=OuterRef("pk"))
    )
    return ReviewLog.objects.filter(action__in=RESOLVED).exclude(Exists(undone))


def returns_of(phase_ids: Iterable[int]) -> dict[int, Return]:
    """Of `phase_ids`, the items in review that came back, by phase id, each with the
    resolution that did not hold. One read of the phases by key, then, only if some came
    back, one of the log, whose moments (constants) let PostgreSQL read just the months that
    hold them (the log is partitioned by month)."""
    # By key alone: the planner would rather read every item that came back (a partial
    # index) than probe the primary key fifty times.
    moments = {
        pk: moment
        for pk, status, moment in WarmupPhase.objects.filter(pk__in=list(phase_ids))
        .order_by()
        .values_list("pk", "status", "last_resolved_at")
        if status == PhaseStatus.REVIEW_REQUIRED and moment is not None
    }
    if not moments:
        return {}
    rows = (
        standing_resolutions()
        .filter(
            phase__in=list(moments),
            created_at__in=set(moments.values()),
            phase__status=PhaseStatus.REVIEW_REQUIRED,
            created_at=F("phase__last_resolved_at"),
        )
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
        .order_by("id")  # the latest last, should two standing rows share the moment
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
    earlier resolution (0 for none). One query, through `phase_review_returned_idx`."""
    keys = list(signature_keys)
    counts = dict.fromkeys(keys, 0)
    if not keys:
        return counts
    rows = (
        WarmupPhase.objects.filter(
            review_signature_id__in=keys,
            status=PhaseStatus.REVIEW_REQUIRED,
            last_resolved_at__isnull=False,
        )
        .order_by()
        .values("review_signature_id")
        .annotate(n=Count("*"))  # not of a column: the index alone answers
    )
    for row in rows:
        counts[row["review_signature_id"]] = row["n"]
    return counts
