"""Checks of what people and bots type, shared by the services of both apps."""

from __future__ import annotations

from warmup.domain.choices import FailureCategory, ReasonCode
from warmup.domain.errors import NOTE_REQUIRED, REASON_CODE_REQUIRED, UNKNOWN_CATEGORY, InvalidInput


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
