"""Accounts: enrolment on a plan, and the account-level status (suspend, pause, reactivate).

Account status changes are review events: each writes one ReviewLog row.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from reviews import events
from reviews.models import ReviewAction
from warmup.actors import Actor
from warmup.errors import (
    ACCOUNT_ALREADY_ACTIVE,
    PLAN_EMPTY,
    PLAN_INACTIVE,
    UNKNOWN_PLATFORM,
    USERNAME_REQUIRED,
    USERNAME_TAKEN,
    InvalidInput,
    InvalidTransition,
)
from warmup.models import (
    ACTIVE_STATUSES,
    Account,
    AccountStatus,
    PhaseStatus,
    Platform,
    WarmupPhase,
    WarmupPlan,
)
from warmup.state import apply_transition


def validate_plan(plan: WarmupPlan) -> WarmupPlan:
    """Accounts can be enrolled on `plan`: it is active and has phases (InvalidInput if not)."""
    if not plan.is_active:
        raise InvalidInput(PLAN_INACTIVE.format(slug=plan.slug), field="plan")
    if not plan.templates.exists():
        raise InvalidInput(PLAN_EMPTY.format(slug=plan.slug), field="plan")
    return plan


def validate_enrolment(*, platform: str, username: str, plan: WarmupPlan) -> str:
    """Check one enrolment without writing; returns the normalised username."""
    if platform not in Platform.values:
        raise InvalidInput(
            UNKNOWN_PLATFORM.format(value=platform, choices=", ".join(Platform.values)),
            field="platform",
        )
    username = (username or "").strip().lstrip("@")
    if not username:
        raise InvalidInput(USERNAME_REQUIRED, field="username")
    validate_plan(plan)
    return username


@transaction.atomic
def account_enrol(*, platform: str, username: str, plan: WarmupPlan) -> Account:
    """Create the account and one phase per template of its plan; the first is available.

    Side effects: none beyond the rows. Raises InvalidInput for a bad or duplicate account.
    """
    username = validate_enrolment(platform=platform, username=username, plan=plan)
    templates = list(plan.templates.order_by("order"))
    try:
        with transaction.atomic():
            account = Account.objects.create(platform=platform, username=username, plan=plan)
    except IntegrityError:
        raise InvalidInput(
            USERNAME_TAKEN.format(platform=platform, username=username), field="username"
        ) from None
    phases = WarmupPhase.objects.bulk_create(
        [
            WarmupPhase(
                account=account,
                template=template,
                order=template.order,
                phase_type=template.phase_type,
            )
            for template in templates
        ]
    )
    first = WarmupPhase.objects.select_for_update().get(pk=phases[0].pk)
    apply_transition(first, PhaseStatus.AVAILABLE, available_at=timezone.now())
    return account


def _active_phase(account: Account) -> WarmupPhase | None:
    return WarmupPhase.objects.filter(account=account, status__in=ACTIVE_STATUSES).first()


def _set_account_status(
    *, account: Account, status: str, action: str, actor: Actor, phase, note: str
) -> Account:
    previous = account.status
    now = timezone.now()
    Account.objects.filter(pk=account.pk).update(status=status, status_changed_at=now)
    account.status = status
    account.status_changed_at = now
    events.account_status_changed(
        account=account,
        actor=actor,
        action=action,
        phase=phase if phase is not None else _active_phase(account),
        note=note,
        previous_status=previous,
    )
    return account


def _lock_account(account: Account) -> Account:
    return Account.objects.select_for_update().get(pk=account.pk)


@transaction.atomic
def account_suspend(
    *, account: Account, actor: Actor, note: str, phase: WarmupPhase | None = None
) -> Account:
    """Mark the account suspended: none of its phases is claimed until it is reactivated."""
    account = _lock_account(account)
    if account.status == AccountStatus.SUSPENDED:
        return account
    return _set_account_status(
        account=account,
        status=AccountStatus.SUSPENDED,
        action=ReviewAction.ACCOUNT_SUSPENDED,
        actor=actor,
        phase=phase,
        note=note,
    )


@transaction.atomic
def account_pause(*, account: Account, actor: Actor, note: str) -> Account:
    """Pause automation for the account (an operator's choice); reactivate to go on."""
    account = _lock_account(account)
    if account.status != AccountStatus.ACTIVE:
        raise InvalidTransition(
            f"Account {account} is {account.status}; only an active account can be paused.",
            current_status=account.status,
            target_status=AccountStatus.PAUSED,
        )
    return _set_account_status(
        account=account,
        status=AccountStatus.PAUSED,
        action=ReviewAction.ACCOUNT_PAUSED,
        actor=actor,
        phase=None,
        note=note,
    )


@transaction.atomic
def account_reactivate(*, account: Account, actor: Actor, note: str) -> Account:
    """Make a suspended or paused account active again (a logged review event)."""
    from reviews.services import require_note

    note = require_note(note)
    account = _lock_account(account)
    if account.status == AccountStatus.ACTIVE:
        raise InvalidTransition(
            ACCOUNT_ALREADY_ACTIVE.format(account=account),
            current_status=account.status,
            target_status=AccountStatus.ACTIVE,
        )
    return _set_account_status(
        account=account,
        status=AccountStatus.ACTIVE,
        action=ReviewAction.ACCOUNT_REACTIVATED,
        actor=actor,
        phase=None,
        note=note,
    )
