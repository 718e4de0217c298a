"""Checks of what people and bots type, shared by the services of both apps."""

from __future__ import annotations

from warmup.choices import FailureCategory
from warmup.errors import NOTE_REQUIRED, UNKNOWN_CATEGORY, InvalidInput


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
