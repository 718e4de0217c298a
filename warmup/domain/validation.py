"""Checks of what people and bots type, shared by the services of both apps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from warmup.domain.choices import FailureCategory, ReasonCode
from warmup.domain.errors import (
    JSON_TOO_BIG,
    JSON_TOO_DEEP,
    NOTE_REQUIRED,
    REASON_CODE_REQUIRED,
    UNKNOWN_CATEGORY,
    InvalidInput,
)

if TYPE_CHECKING:
    from django.db import models

TOO_LONG = "the {field} is {length:,} characters long; at most {limit:,} fit"


def require_note(note: str | None) -> str:
    """The note without surrounding blanks; InvalidInput when nothing is left."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput(NOTE_REQUIRED, field="note")
    return note


def validate_category(category: str) -> str:
    """`category` if it is a failure category; InvalidInput listing the valid ones if not."""
    if category not in FailureCategory.values:
        raise InvalidInput(
            UNKNOWN_CATEGORY.format(value=category, choices=", ".join(FailureCategory.values)),
            field="category",
            choices=list(FailureCategory.values),
        )
    return category


def require_reason_code(reason_code: str | None) -> str:
    """`reason_code` if it is one of the reason codes; InvalidInput listing them if not."""
    if reason_code not in ReasonCode.values:
        raise InvalidInput(
            REASON_CODE_REQUIRED.format(codes=", ".join(ReasonCode.values)),
            field="reason_code",
            choices=list(ReasonCode.values),
        )
    return reason_code


def too_long(model: type[models.Model], values: dict[str, str]) -> str | None:
    """The message for the first of `values` ({field name: value}) longer than its field's
    max_length on `model`, or None when every value fits: a value too long for its column is
    refused with a sentence (an import's row error with its line number, in a dry run too)
    rather than a database DataError halfway through."""
    for name, value in values.items():
        limit = model._meta.get_field(name).max_length
        if limit is not None and len(value or "") > limit:
            return TOO_LONG.format(field=name, length=len(value), limit=limit)
    return None


# --- JSON that people and bots write ---------------------------------------------------------
# Every JSON field written from input (a bot's failure details and result, a plan step's retry
# overrides) is at most this deep and this long once serialized: storing, rendering and
# comparing such a value recurses once per level, and nobody reads a document of megabytes.
# The limits are those of an API body (config.api.parsers: 64 levels, 64 KiB), so what a bot
# may send is unchanged; the admin and any other writer get the same caps.
JSON_MAX_DEPTH = 64
JSON_MAX_CHARS = 64 * 1024


def validate_json_document(value, *, field: str = ""):
    """`value` if it is at most JSON_MAX_DEPTH deep and JSON_MAX_CHARS long as JSON;
    InvalidInput (for `field`) saying which limit it passes if not. The depth is checked first,
    without recursing, so measuring the length never recurses past it."""
    if json_depth_over(value, JSON_MAX_DEPTH):
        raise InvalidInput(JSON_TOO_DEEP.format(depth=JSON_MAX_DEPTH), field=field)
    if len(json.dumps(value, ensure_ascii=False, default=str)) > JSON_MAX_CHARS:
        raise InvalidInput(JSON_TOO_BIG.format(chars=JSON_MAX_CHARS), field=field)
    return value


def json_depth_over(value, limit: int) -> bool:
    """Whether `value` nests objects and arrays more than `limit` deep (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def json_texts(value) -> Iterator[str]:
    """Every key and string inside a parsed JSON value, at any depth (iteratively)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def lone_surrogate(text: str) -> bool:
    """Whether `text` holds half of a surrogate pair (e.g. from the JSON escape "\\ud800"),
    which no UTF-8 output can carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
