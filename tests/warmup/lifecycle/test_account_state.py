"""The account status machine: every (from, to) pair of the three statuses against the table."""

from itertools import product

import pytest

from tests.factories import AccountFactory
from warmup.domain.errors import ACCOUNT_MOVE_NOT_ALLOWED, InvalidTransition, Refusal
from warmup.lifecycle.state import ACCOUNT_TRANSITIONS, apply_account_transition
from warmup.models import Account, AccountStatus

PAIRS = list(product(AccountStatus.values, repeat=2))


def account_in(status):
    account = AccountFactory()
    Account.objects.filter(pk=account.pk).update(status=status)  # the starting point only
    return Account.objects.get(pk=account.pk)


@pytest.mark.parametrize("from_status, to_status", [p for p in PAIRS if p in ACCOUNT_TRANSITIONS])
def test_an_allowed_move_is_stored_with_its_time(db, from_status, to_status):
    account = account_in(from_status)
    bystander = account_in(from_status)  # another account in the same status

    returned = apply_account_transition(account, to_status)

    stored = Account.objects.get(pk=account.pk)
    assert stored.status == to_status
    assert stored.status_changed_at is not None
    assert (returned.status, returned.status_changed_at) == (to_status, stored.status_changed_at)
    assert Account.objects.get(pk=bystander.pk).status == from_status


@pytest.mark.parametrize(
    "from_status, to_status", [p for p in PAIRS if p not in ACCOUNT_TRANSITIONS]
)
def test_a_move_the_table_refuses_changes_nothing(db, from_status, to_status):
    account = account_in(from_status)

    with pytest.raises(InvalidTransition) as raised:
        apply_account_transition(account, to_status)

    assert raised.value.current_status == from_status
    assert Account.objects.get(pk=account.pk).status == from_status


def test_a_stale_account_cannot_overwrite_a_move_made_meanwhile(db):
    account = account_in(AccountStatus.ACTIVE)
    Account.objects.filter(pk=account.pk).update(status=AccountStatus.SUSPENDED)

    with pytest.raises(InvalidTransition):
        apply_account_transition(account, AccountStatus.PAUSED)  # it still reads "active"

    assert Account.objects.get(pk=account.pk).status == AccountStatus.SUSPENDED


def test_a_move_that_raced_names_this_accounts_status_now_not_another_accounts(db):
    other = AccountFactory(platform="instagram", username="aaa")  # listed first, paused
    Account.objects.filter(pk=other.pk).update(status=AccountStatus.PAUSED)
    account = AccountFactory(platform="x", username="zzz")
    Account.objects.filter(pk=account.pk).update(status=AccountStatus.SUSPENDED)

    with pytest.raises(InvalidTransition) as raised:
        apply_account_transition(account, AccountStatus.PAUSED)

    assert raised.value.current_status == AccountStatus.SUSPENDED
    assert raised.value.context["status"] == AccountStatus.SUSPENDED  # what the edges show
    assert raised.value.refusal == Refusal.ACCOUNT_STATUS
    assert raised.value.message == ACCOUNT_MOVE_NOT_ALLOWED.format(
        account=account, status="suspended", target="paused"
    )


def test_the_table_names_every_move_the_design_allows():
    A = AccountStatus
    assert set(ACCOUNT_TRANSITIONS) == {
        (A.ACTIVE, A.SUSPENDED),
        (A.PAUSED, A.SUSPENDED),
        (A.ACTIVE, A.PAUSED),
        (A.SUSPENDED, A.ACTIVE),
        (A.PAUSED, A.ACTIVE),
    }
