"""Giving the demo stories their ages: an account's history is moved back in time after the
services wrote it. Only timestamps that are not status change (claimed_at, available_at,
review_required_since, created_at, ...), with QuerySet.update(); ReviewLog rows keep the time
they were written (they are append-only)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from warmup.models import Account, PhaseAttempt, PhaseStatus, WarmupPhase

S = PhaseStatus


def backdate(account: Account, age: timedelta, *, rng: random.Random) -> None:
    """Move the account's history back in time: its latest event happened `age` ago, each
    earlier phase a template delay (plus a little) before the next one, and the attempts of a
    phase their backoff apart. Only non-status timestamps change; future ones (a pending
    phase's unlock time, a retry, a lease) stay as the services set them, unless the pending
    phase's unlock time can move back and stay in the future."""
    now = timezone.now()
    phases = list(WarmupPhase.objects.filter(account=account).select_related("template"))
    done = [p for p in phases if p.status != S.PENDING]
    if not done:
        return
    current = max(done, key=lambda p: p.order)
    offsets, offset = {}, age
    for phase in sorted(done, key=lambda p: p.order, reverse=True):
        offsets[phase.pk] = offset
        offset += phase.template.delay + timedelta(minutes=rng.randint(5, 40))

    earliest = now
    for phase in done:
        start = _backdate_attempts(phase, offsets[phase.pk], rng=rng)
        fields = {}
        for name in ("completed_at", "last_failure_at", "review_required_since"):
            value = getattr(phase, name)
            if value is not None:
                fields[name] = value - offsets[phase.pk]
        available = (start or now - offsets[phase.pk]) - timedelta(minutes=rng.randint(1, 9))
        fields["available_at"] = available
        earliest = min(earliest, available)
        WarmupPhase.objects.filter(pk=phase.pk).update(**fields)

    following = next(
        (p for p in sorted(phases, key=lambda p: p.order) if p.order > current.order), None
    )
    if following is not None and following.status == S.PENDING and following.available_at:
        moved = following.available_at - age
        if moved > now:
            WarmupPhase.objects.filter(pk=following.pk).update(available_at=moved)

    enrolled = earliest - timedelta(minutes=rng.randint(2, 30))
    WarmupPhase.objects.filter(account=account).update(created_at=enrolled)
    Account.objects.filter(pk=account.pk).update(created_at=enrolled)
    Account.objects.filter(pk=account.pk, status_changed_at__isnull=False).update(
        status_changed_at=now - offsets[current.pk]
    )


def _backdate_attempts(phase: WarmupPhase, offset: timedelta, *, rng) -> object:
    """Space the phase's finished attempts out, the last one ending `offset` ago; returns the
    first claim time (or None when there are none)."""
    attempts = list(
        PhaseAttempt.objects.filter(phase=phase, finished_at__isnull=False).order_by("-number")
    )
    first_claim, finish = None, None
    for attempt in attempts:
        if finish is None:
            finish = attempt.finished_at - offset
        claimed = finish - timedelta(seconds=rng.randint(40, 180))
        fields = {"claimed_at": claimed, "finished_at": finish}
        if attempt.next_attempt_at is not None:
            fields["next_attempt_at"] = finish + (attempt.next_attempt_at - attempt.finished_at)
        PhaseAttempt.objects.filter(pk=attempt.pk).update(**fields)
        first_claim = claimed
        # The attempt before this one ended its backoff (or a short while) before this claim.
        earlier = next((a for a in attempts if a.number == attempt.number - 1), None)
        if earlier is not None:
            wait = (
                earlier.next_attempt_at - earlier.finished_at
                if earlier.next_attempt_at is not None
                else timedelta(minutes=rng.randint(3, 20))
            )
            finish = claimed - wait
    return first_claim
