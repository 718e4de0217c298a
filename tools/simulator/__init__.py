"""Simulated bots: HTTP clients of the bot API that claim phases, heartbeat and report outcomes.

A simulated bot knows the system only through `/api/v1/bot/`, exactly as a real bot does; this
package imports nothing of the project (the caller passes the valid failure categories).

  config   the options and the failure mix, checked before anything runs
  stories  what a bot decides to do with a claimed phase, and what it says when it fails
  client   one bot's loop over HTTP: claim, heartbeat, complete or fail
  fleet    one thread per bot, stopped by duration, cycles, Ctrl-C or stop()
  stats    the shared counters, the progress line and the summary
"""

from .client import SimulatedBot
from .config import (
    BAD_URL,
    DEFAULT_MIX,
    DEFAULT_MIX_SPEC,
    MIX_ALL_ZERO,
    MIX_BAD_PAIR,
    MIX_BAD_WEIGHT,
    MIX_DUPLICATE,
    MIX_EMPTY,
    MIX_UNKNOWN_CATEGORY,
    MUST_BE_POSITIVE,
    MUST_NOT_BE_NEGATIVE,
    OUTAGE_TOO_LONG,
    RATE_OUT_OF_RANGE,
    SimulationConfig,
    SimulatorConfigError,
    parse_mix,
)
from .fleet import Simulation
from .stats import REASONS, SUMMARY_ROWS, SimulationResult, Stats, format_progress, format_summary
from .stories import FAILURE_STORIES, OUTAGE_DETAILS, OUTAGE_REASON, Plan, draw_plan

__all__ = [
    "BAD_URL",
    "DEFAULT_MIX",
    "DEFAULT_MIX_SPEC",
    "FAILURE_STORIES",
    "MIX_ALL_ZERO",
    "MIX_BAD_PAIR",
    "MIX_BAD_WEIGHT",
    "MIX_DUPLICATE",
    "MIX_EMPTY",
    "MIX_UNKNOWN_CATEGORY",
    "MUST_BE_POSITIVE",
    "MUST_NOT_BE_NEGATIVE",
    "OUTAGE_DETAILS",
    "OUTAGE_REASON",
    "OUTAGE_TOO_LONG",
    "RATE_OUT_OF_RANGE",
    "REASONS",
    "SUMMARY_ROWS",
    "Plan",
    "SimulatedBot",
    "Simulation",
    "SimulationConfig",
    "SimulationResult",
    "SimulatorConfigError",
    "Stats",
    "draw_plan",
    "format_progress",
    "format_summary",
    "parse_mix",
]
