"""Stateful property test of the whole pipeline: bots, the scheduler, the clock and reviewers
act in random order on a few accounts, and after every step the database must agree with a
small model of DESIGN.md and keep its invariants. The model is in model.py; the machine that
drives the real services and compares the database with the model is in machine.py.

More examples for a soak run: STATEFUL_EXAMPLES=500 .venv/bin/pytest tests/warmup/stateful
"""

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.warmup.stateful.machine import WarmupMachine


# A passing run takes ~20 s. Hypothesis may then spend up to five minutes shrinking a failure
# to a short sequence of steps, hence the longer timeout.
@pytest.mark.timeout(600)
def test_random_operations_keep_the_pipeline_consistent(db):
    run_state_machine_as_test(
        WarmupMachine,
        settings=settings(
            max_examples=int(os.environ.get("STATEFUL_EXAMPLES", "30")),
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
