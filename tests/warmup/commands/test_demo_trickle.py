"""demo_trickle keeps a running demo moving with fresh accounts on the fast plan."""

import pytest
from django.core.management.base import CommandError

from tests.warmup.commands.conftest import run
from tools.demo import FAST_PLAN
from warmup.models import Account, PhaseStatus

pytestmark = pytest.mark.django_db


def test_each_round_enrols_new_accounts_the_scheduler_can_start(content_pool):
    first = run("demo_trickle", "--once", "--accounts", "2")
    second = run("demo_trickle", "--once", "--accounts", "2")

    accounts = Account.objects.filter(plan__slug=FAST_PLAN)
    assert accounts.count() == 4  # new names each round, never a clash
    assert all(a.phases.get(order=1).status == PhaseStatus.AVAILABLE for a in accounts)
    assert "Enrolled 2 fresh accounts: " in first.stdout and first.stdout != second.stdout


def test_bad_options_are_refused():
    with pytest.raises(CommandError, match="--every must be above 0"):
        run("demo_trickle", "--once", "--every", "0")
