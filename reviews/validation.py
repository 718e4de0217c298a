"""Checks of what reviewers type that only the review side knows: reason codes."""

from __future__ import annotations

from reviews.models import ReasonCode
from warmup.errors import REASON_CODE_REQUIRED, InvalidInput


def require_reason_code(reason_code: str | None) -> str:
    """`reason_code` if it is one of the reason codes; InvalidInput listing them if not."""
    if reason_code not in ReasonCode.values:
        raise InvalidInput(
            REASON_CODE_REQUIRED.format(codes=", ".join(ReasonCode.values)),
            field="reason_code",
            choices=list(ReasonCode.values),
        )
    return reason_code
