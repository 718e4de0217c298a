"""The failure mix spec and the command's options: bad input is refused before anything runs."""

import ast
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

import tools.simulator
from tools.simulator import (
    BAD_URL,
    DEFAULT_MIX_SPEC,
    MIX_ALL_ZERO,
    MIX_BAD_PAIR,
    MIX_BAD_WEIGHT,
    MIX_DUPLICATE,
    MIX_EMPTY,
    MIX_UNKNOWN_CATEGORY,
    SimulatorConfigError,
    parse_mix,
)
from warmup.models import FailureCategory

CATEGORIES = FailureCategory.values  # what the command passes: the server's vocabulary

# --- parse_mix ---------------------------------------------------------------------------


def test_a_mix_maps_each_category_to_its_weight():
    mix = parse_mix(" network_error=4, rate_limited = 2 ,bot_error=0.5", categories=CATEGORIES)

    assert mix == {
        "network_error": 4.0,
        "rate_limited": 2.0,
        "bot_error": 0.5,
    }


def test_the_default_mix_is_valid_and_spans_retryable_and_review_categories():
    mix = parse_mix(DEFAULT_MIX_SPEC, categories=CATEGORIES)

    assert set(mix) == {
        "network_error",
        "rate_limited",
        "challenge_required",
        "proxy_error",
        "bot_error",
        "content_rejected",
        "login_failed",
    }
    assert all(weight > 0 for weight in mix.values())


def test_a_zero_weight_is_allowed_next_to_a_positive_one():
    assert parse_mix("network_error=1,login_failed=0", categories=CATEGORIES) == {
        "network_error": 1.0,
        "login_failed": 0.0,
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", MIX_EMPTY.format(example=DEFAULT_MIX_SPEC)),
        (" , ", MIX_EMPTY.format(example=DEFAULT_MIX_SPEC)),
        ("network_error", MIX_BAD_PAIR.format(entry="network_error")),
        ("=3", MIX_BAD_PAIR.format(entry="=3")),
        ("network_error=x", MIX_BAD_WEIGHT.format(value="x", category="network_error")),
        ("network_error=-1", MIX_BAD_WEIGHT.format(value="-1", category="network_error")),
        ("network_error=nan", MIX_BAD_WEIGHT.format(value="nan", category="network_error")),
        ("network_error=inf", MIX_BAD_WEIGHT.format(value="inf", category="network_error")),
        ("network_error=1,network_error=2", MIX_DUPLICATE.format(category="network_error")),
        ("network_error=0,bot_error=0", MIX_ALL_ZERO),
    ],
)
def test_a_bad_mix_is_refused_with_a_message_that_says_why(spec, message):
    with pytest.raises(SimulatorConfigError) as excinfo:
        parse_mix(spec, categories=CATEGORIES)

    assert str(excinfo.value) == message


def test_an_unknown_category_is_refused_and_the_valid_ones_are_listed():
    with pytest.raises(SimulatorConfigError) as excinfo:
        parse_mix("network_error=1,captcha=2", categories=CATEGORIES)

    assert str(excinfo.value) == MIX_UNKNOWN_CATEGORY.format(
        value="captcha", choices=", ".join(FailureCategory.values)
    )
    assert "challenge_required" in str(excinfo.value)


# --- the command's options ---------------------------------------------------------------
# No database here: an option check that let a bad value through would reach the bot table
# and fail with pytest-django's "Database access not allowed" instead of a CommandError.


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bots", "0"], "--bots must be a positive number (got 0)."),
        (["--bots", "-2"], "--bots must be a positive number (got -2)."),
        (["--duration", "0"], "--duration must be a positive number (got 0.0)."),
        (["--duration", "-5"], "--duration must be a positive number (got -5.0)."),
        (["--cycles", "0"], "--cycles must be a positive number (got 0)."),
        (["--cycles", "-1"], "--cycles must be a positive number (got -1)."),
        (["--think", "-0.5"], "--think must not be negative (got -0.5)."),
        (["--timeout", "0"], "--timeout must be a positive number (got 0.0)."),
        (["--fail-rate", "1.5"], "--fail-rate must be between 0 and 1 (got 1.5)."),
        (["--fail-rate", "-0.1"], "--fail-rate must be between 0 and 1 (got -0.1)."),
        (["--hang-rate", "2"], "--hang-rate must be between 0 and 1 (got 2.0)."),
        (["--nonretryable-rate", "-1"], "--nonretryable-rate must be between 0 and 1 (got -1.0)."),
        (["--url", "127.0.0.1:8000"], BAD_URL.format(value="127.0.0.1:8000")),
        (["--mix", "network_error=1,nope=1"], "Unknown failure category 'nope' in the mix"),
        (["--mix", "network_error"], MIX_BAD_PAIR.format(entry="network_error")),
        (["--prefix", "  "], "--prefix must not be blank."),
        (["--progress-every", "0"], "--progress-every must be a positive number (got 0.0)."),
    ],
)
def test_bad_options_are_refused_before_any_bot_is_made(args, message):
    with pytest.raises(CommandError) as excinfo:
        call_command("simulate_bots", "--cycles", "1", *args)

    assert message in str(excinfo.value)


def test_a_non_number_is_refused_by_the_parser():
    with pytest.raises(CommandError, match="invalid float value: 'soon'"):
        call_command("simulate_bots", "--duration", "soon")


# --- the simulator is a client of the HTTP API only -----------------------------------------


def test_the_simulator_reaches_phases_only_over_http():
    package = Path(tools.simulator.__file__).parent
    trees = [ast.parse(module.read_text()) for module in package.glob("*.py")]
    nodes = [node for tree in trees for node in ast.walk(tree)]
    imported = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level == 0:  # not the package's own modules
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    outside = ("warmup", "reviews", "config", "django", "rest_framework")
    project = {name for name in imported if name.split(".")[0] in outside}

    # Nothing of the project, not even the failure vocabulary (the command passes it in).
    assert project == set()
    assert "requests" in imported
    attributes = {node.attr for node in nodes if isinstance(node, ast.Attribute)}
    assert "objects" not in attributes
