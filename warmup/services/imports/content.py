"""Importing content: validate every row of a phase_type,title,body[,media_url] CSV (including
duplicates within the file and items already in the pool), then add the valid items to the
pool in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from warmup.domain.errors import InvalidInput
from warmup.domain.validation import too_long
from warmup.models import ContentItem
from warmup.services.content import build_content_item, content_phase_types
from warmup.services.imports.reader import ParseResult, RowError, read_records

CONTENT_COLUMNS = ("phase_type", "title", "body", "media_url")
CONTENT_OPTIONAL_COLUMNS = ("media_url",)
DUPLICATE_CONTENT = "duplicate of line {line} ({phase_type}: {title!r})"
CONTENT_EXISTS = "{phase_type}: {title!r} is already in the content pool (item {pk})"


@dataclass(frozen=True)
class ContentRow:
    line: int
    item: ContentItem  # validated, unsaved


def parse_content(source: str | Iterable[str]) -> ParseResult:
    """Validate a content CSV (phase_type,title,body[,media_url]); writes nothing."""
    result = ParseResult()
    known_types = content_phase_types()
    seen: dict[tuple[str, str, str, str], int] = {}
    for line, values, error in read_records(
        source, columns=CONTENT_COLUMNS, optional=CONTENT_OPTIONAL_COLUMNS
    ):
        if error is not None:
            result.errors.append(error)
            continue
        try:
            item = build_content_item(
                phase_type=values["phase_type"],
                title=values["title"],
                body=values["body"],
                media_url=values["media_url"],
                known_types=known_types,
            )
        except InvalidInput as exc:
            result.errors.append(RowError(line, exc.message))
            continue
        message = too_long(
            ContentItem,
            {"phase_type": item.phase_type, "title": item.title, "media_url": item.media_url},
        )
        if message is not None:
            result.errors.append(RowError(line, message))
            continue
        key = _content_key(item)
        if key in seen:
            message = DUPLICATE_CONTENT.format(
                line=seen[key], phase_type=item.phase_type, title=item.title
            )
            result.errors.append(RowError(line, message))
            continue
        existing = _existing_content(item)
        if existing is not None:
            message = CONTENT_EXISTS.format(
                phase_type=item.phase_type, title=item.title, pk=existing
            )
            result.errors.append(RowError(line, message))
            continue
        seen[key] = line
        result.rows.append(ContentRow(line=line, item=item))
    return result


def _content_key(item: ContentItem) -> tuple[str, str, str, str]:
    return (item.phase_type, item.title, item.body, item.media_url)


def _existing_content(item: ContentItem) -> int | None:
    return (
        ContentItem.objects.filter(
            phase_type=item.phase_type, title=item.title, body=item.body, media_url=item.media_url
        )
        .values_list("pk", flat=True)
        .first()
    )


@transaction.atomic
def import_content(rows: list[ContentRow]) -> list[ContentItem]:
    """Add every validated item to the pool, all or nothing."""
    items = [row.item for row in rows]
    for item in items:
        item.save()
    return items
