"""What simulate_bots may touch: only phases of plans marked for simulation (a real plan only
when the operator says so), and only bots it made itself."""

import pytest
from django.core.management import CommandError

from tests.factories import AccountFactory
from tests.tools.simulator.conftest import simulate, summary
from warmup.domain.errors import (
    SIMULATION_BOT_NOT_OURS,
    SIMULATION_PLAN_MISSING,
    SIMULATION_PLAN_REAL,
)
from warmup.models import Bot, PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.services.bots import bot_authenticate, bot_create
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db(transaction=True)

S = PhaseStatus
QUICK = ("--bots", "1", "--think", "0", "--fail-rate", "0", "--quiet")


def test_the_bots_claim_only_phases_of_the_simulation_plan(
    server_url, content_pool, default_plan, simulation_plan
):
    # given real accounts ready first (they would be claimed first) and two simulated ones
    real = AccountFactory.create_batch(2, plan=default_plan)
    simulated = AccountFactory.create_batch(2, plan=simulation_plan)
    assert tick().assigned == 4

    output = simulate("--url", server_url, "--cycles", "2", *QUICK)

    # then the two claims completed the simulated accounts' phases, and no real one was touched
    assert summary(output)["completions"] == 2
    claimed = set(PhaseAttempt.objects.values_list("phase__account", flat=True))
    assert claimed == {account.pk for account in simulated}
    real_phases = WarmupPhase.objects.filter(account__in=real, order=1)
    assert set(real_phases.values_list("status", flat=True)) == {S.CONTENT_ASSIGNED}


def test_a_plan_not_marked_for_simulation_is_refused_before_any_bot_is_made(
    default_plan, simulation_plan
):
    with pytest.raises(CommandError) as refused:
        simulate("--url", "http://127.0.0.1:9", "--plan", "default", "--cycles", "1")

    assert str(refused.value) == SIMULATION_PLAN_REAL.format(slug="default")
    assert not Bot.objects.exists()


def test_an_unknown_plan_is_refused(simulation_plan):
    with pytest.raises(CommandError) as refused:
        simulate("--url", "http://127.0.0.1:9", "--plan", "nope", "--cycles", "1")

    assert str(refused.value) == SIMULATION_PLAN_MISSING.format(slug="nope", demo="demo-fast")


def test_without_the_demo_plan_the_operator_is_told_where_it_comes_from(default_plan):
    with pytest.raises(CommandError, match="seed_demo makes the demo's 'demo-fast'"):
        simulate("--url", "http://127.0.0.1:9", "--cycles", "1")


def test_allow_real_plan_works_a_real_plan_and_warns(server_url, content_pool, default_plan):
    (account,) = AccountFactory.create_batch(1, plan=default_plan)
    tick()

    output = simulate(
        *("--url", server_url, "--cycles", "1", "--plan", "default", "--allow-real-plan"), *QUICK
    )

    assert "Warning: plan 'default' is not marked for simulation" in output
    assert summary(output)["completions"] == 1
    assert account.phases.get(order=1).status == S.COMPLETED


def test_a_bot_the_simulator_did_not_make_keeps_its_token(simulation_plan):
    # given a real bot that happens to be named like the simulator's
    real, token = bot_create(name="simulated-bot-2")

    with pytest.raises(CommandError) as refused:
        simulate("--url", "http://127.0.0.1:9", "--bots", "2", "--cycles", "1")

    assert str(refused.value) == SIMULATION_BOT_NOT_OURS.format(name="simulated-bot-2")
    assert bot_authenticate(token) == real
    assert list(Bot.objects.values_list("name", flat=True)) == ["simulated-bot-2"]


def test_the_bots_it_makes_are_marked_as_simulated(server_url, simulation_plan):
    simulate("--url", server_url, "--bots", "2", "--cycles", "1", "--duration", "1", "--quiet")

    assert set(Bot.objects.values_list("name", "is_simulated")) == {
        ("simulated-bot-1", True),
        ("simulated-bot-2", True),
    }
