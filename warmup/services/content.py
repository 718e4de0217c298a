"""The content pool: captions and media per phase type, and how phases draw from it."""

from __future__ import annotations

import heapq
from collections import Counter

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import F

from warmup.domain.errors import MEDIA_URL_INVALID, PHASE_TYPE_UNKNOWN, TITLE_REQUIRED, InvalidInput
from warmup.models import ContentItem, PhaseTemplate, WarmupPhase


def content_phase_types() -> list[str]:
    return sorted(
        set(
            PhaseTemplate.objects.filter(requires_content=True).values_list("phase_type", flat=True)
        )
    )


def build_content_item(
    *, phase_type: str, title: str, body: str = "", media_url: str = "", known_types=None
) -> ContentItem:
    """Validate and return an unsaved ContentItem (raises InvalidInput)."""
    phase_type = (phase_type or "").strip()
    known_types = content_phase_types() if known_types is None else known_types
    if phase_type not in known_types:
        raise InvalidInput(
            PHASE_TYPE_UNKNOWN.format(value=phase_type, choices=", ".join(known_types)),
            field="phase_type",
        )
    title = (title or "").strip()
    if not title:
        raise InvalidInput(TITLE_REQUIRED, field="title")
    media_url = (media_url or "").strip()
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            raise InvalidInput(
                MEDIA_URL_INVALID.format(value=media_url), field="media_url"
            ) from None
    return ContentItem(
        phase_type=phase_type, title=title, body=(body or "").strip(), media_url=media_url
    )


def content_create(**kwargs) -> ContentItem:
    item = build_content_item(**kwargs)
    item.save()
    return item


# --- Drawing content for phases ----------------------------------------------------------


def content_lock_pools(phases: list[WarmupPhase]) -> None:
    """Lock the content rows `phases` may draw from, in id order. Two ticks assigning at once
    would otherwise each hold one item's row and wait for the other's (a deadlock), and could
    both pick the same "least used" item from a stale count. NO KEY: claims that reference
    the content (PhaseAttempt.content) are not blocked."""
    types = {phase.phase_type for phase in phases if phase.template.requires_content}
    if types:
        list(
            ContentItem.objects.filter(phase_type__in=types, is_active=True)
            .order_by("id")
            .select_for_update(no_key=True)
            .values_list("id", flat=True)
        )


def content_draw(phases: list[WarmupPhase]) -> tuple[dict[int, int | None], int]:
    """Draw each phase's content, in the order given: the least-used active item of its type
    (the lowest id among equals), each draw counting as a use, so a list of many draws what
    the same phases one at a time would. Side effect: the items' use counts, written in one
    UPDATE per distinct increment. Returns {phase id: content id, or None for a phase that
    takes no content} for the phases that can go ahead, and how many are starved (their type
    has no active content). The caller holds the pools' locks (`content_lock_pools`)."""
    types = {phase.phase_type for phase in phases if phase.template.requires_content}
    pools: dict[str, list[tuple[int, int]]] = {}
    if types:
        for pk, phase_type, used in ContentItem.objects.filter(
            phase_type__in=types, is_active=True
        ).values_list("pk", "phase_type", "times_used"):
            pools.setdefault(phase_type, []).append((used, pk))
    for pool in pools.values():
        heapq.heapify(pool)
    chosen, draws, starved = {}, Counter(), 0
    for phase in phases:
        content_id = None
        if phase.template.requires_content:
            pool = pools.get(phase.phase_type)
            if not pool:
                starved += 1
                continue
            used, content_id = heapq.heappop(pool)
            heapq.heappush(pool, (used + 1, content_id))
            draws[content_id] += 1
        chosen[phase.pk] = content_id
    by_increment: dict[int, list[int]] = {}
    for content_id, count in draws.items():
        by_increment.setdefault(count, []).append(content_id)
    for count, ids in by_increment.items():
        ContentItem.objects.filter(pk__in=ids).update(times_used=F("times_used") + count)
    return chosen, starved
