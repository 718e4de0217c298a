"""The content pool: captions and media per phase type."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from warmup.errors import MEDIA_URL_INVALID, PHASE_TYPE_UNKNOWN, TITLE_REQUIRED, InvalidInput
from warmup.models import ContentItem, PhaseTemplate


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
