"""Reads: querysets the API, the admin and the commands share."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch

from warmup.domain.errors import ACCOUNT_NOT_VISIBLE, PHASE_NOT_VISIBLE, NotFound
from warmup.models import Account, Bot, PhaseAttempt, WarmupPhase


def bot_phase_get(*, bot: Bot, phase_id: int) -> WarmupPhase:
    """A phase `bot` has attempted at least once (NotFound otherwise)."""
    phase = (
        WarmupPhase.objects.select_related("account", "content")
        .filter(pk=phase_id)
        .filter(Exists(PhaseAttempt.objects.filter(phase=OuterRef("pk"), bot=bot)))
        .first()
    )
    if phase is None:
        raise NotFound(PHASE_NOT_VISIBLE.format(phase_id=phase_id))
    return phase


def bot_account_get(*, bot: Bot, account_id: int) -> Account:
    """An account one of whose phases `bot` has attempted (NotFound otherwise)."""
    account = (
        Account.objects.filter(pk=account_id)
        .filter(Exists(PhaseAttempt.objects.filter(phase__account=OuterRef("pk"), bot=bot)))
        .prefetch_related(Prefetch("phases", queryset=WarmupPhase.objects.order_by("order")))
        .first()
    )
    if account is None:
        raise NotFound(ACCOUNT_NOT_VISIBLE.format(account_id=account_id))
    return account
