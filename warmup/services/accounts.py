"""Accounts: enrolment on a plan, and the account-level status (suspend, pause, reactivate).

Account status changes are review events: each writes one ReviewLog row.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from warmup.domain.actors import Actor
from warmup.domain.choices import ReviewAction
from warmup.domain.errors import (
    PLAN_EMPTY,
    PLAN_INACTIVE,
    UNKNOWN_PLATFORM,
    USERNAME_REQUIRED,
    USERNAME_TAKEN,
    InvalidInput,
)
from warmup.domain.usernames import username_problem
from warmup.domain.validation import require_note, too_long
from warmup.lifecycle import review_log
from warmup.lifecycle.state import apply_account_transition, unlock_many
from warmup.models import (
    ACTIVE_STATUSES,
    Account,
    AccountStatus,
    Platform,
    WarmupPhase,
    WarmupPlan,
)


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
    problem = too_long(Account, {"username": username}) or username_problem(
        platform=platform, username=username
    )
    if problem is not None:
        raise InvalidInput(problem, field="username")
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
                platform=account.platform,
            )
            for template in templates
        ]
    )
    first = WarmupPhase.objects.select_for_update().get(pk=phases[0].pk)
    unlock_many([first], available_at=timezone.now())
    return account


def _lock(account: Account, phase: WarmupPhase | None) -> tuple[Account, WarmupPhase | None]:
    """Lock the phase the event will be logged on (the one given, which the caller has locked,
    or the account's active phase), then the account: the log row extends that phase's chain
    (warmup.lifecycle.review_log), and phase before account is the order every other path takes."""
    if phase is None:
        phase = (
            WarmupPhase.objects.select_for_update(of=("self",))
            .filter(account=account, status__in=ACTIVE_STATUSES)
            .first()
        )
    return Account.objects.select_for_update().get(pk=account.pk), phase


def _change_status(
    *, account: Account, status: str, action: str, actor: Actor, note: str, phase=None
) -> Account:
    """Move the account (locked by `_lock`) by the account table and log the move: one
    ReviewLog row, on `phase` (locked by `_lock`; None when no phase is active)."""
    previous = account.status
    apply_account_transition(account, status)
    review_log.account_status_changed(
        account=account,
        actor=actor,
        action=action,
        phase=phase,
        note=note,
        previous_status=previous,
    )
    return account


@transaction.atomic
def account_suspend(
    *, account: Account, actor: Actor, note: str, phase: WarmupPhase | None = None
) -> Account:
    """Mark the account suspended: none of its phases is claimed until it is reactivated.
    Suspending a suspended account changes nothing (a second failure says what the first did)."""
    account, phase = _lock(account, phase)
    if account.status == AccountStatus.SUSPENDED:
        return account
    return _change_status(
        account=account,
        status=AccountStatus.SUSPENDED,
        action=ReviewAction.ACCOUNT_SUSPENDED,
        actor=actor,
        note=note,
        phase=phase,
    )


@transaction.atomic
def account_pause(*, account: Account, actor: Actor, note: str) -> Account:
    """Pause automation for the account (an operator's choice); reactivate to go on."""
    account, phase = _lock(account, None)
    return _change_status(
        account=account,
        status=AccountStatus.PAUSED,
        action=ReviewAction.ACCOUNT_PAUSED,
        actor=actor,
        note=note,
        phase=phase,
    )


@transaction.atomic
def account_reactivate(*, account: Account, actor: Actor, note: str) -> Account:
    """Make a suspended or paused account active again (a logged review event)."""
    note = require_note(note)
    account, phase = _lock(account, None)
    return _change_status(
        account=account,
        status=AccountStatus.ACTIVE,
        action=ReviewAction.ACCOUNT_REACTIVATED,
        actor=actor,
        note=note,
        phase=phase,
    )
