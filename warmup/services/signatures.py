"""Storing failure signatures (`warmup.domain.signatures` computes them)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from warmup.domain.signatures import Signature
from warmup.models import FailureSignature


def signatures_store(signatures: Iterable[Signature], *, now: datetime) -> None:
    """Record the signatures not seen before, first seen `now`, in one INSERT that leaves the
    known ones alone (ON CONFLICT DO NOTHING)."""
    unique = {signature.key: signature for signature in signatures}
    FailureSignature.objects.bulk_create(
        [
            FailureSignature(
                key=s.key,
                title=s.title,
                category=s.category,
                phase_type=s.phase_type,
                first_seen_at=now,
            )
            for s in unique.values()
        ],
        ignore_conflicts=True,
    )
