"""Demo data: a believable fleet in the middle of its warmup, built only through the services.
See tools.demo.seed."""

from tools.demo.fixtures import ADMIN_USERNAME, FAST_PLAN, ROLE_USERS
from tools.demo.seed import (
    DEFAULT_ACCOUNTS,
    DEFAULT_LIVE,
    SeedReport,
    enrol_fresh,
    queue_levels,
    resolution_count,
    seed,
    status_counts,
)
from tools.demo.stories import DemoError

__all__ = [
    "ADMIN_USERNAME",
    "DEFAULT_ACCOUNTS",
    "DEFAULT_LIVE",
    "FAST_PLAN",
    "ROLE_USERS",
    "DemoError",
    "SeedReport",
    "enrol_fresh",
    "queue_levels",
    "resolution_count",
    "seed",
    "status_counts",
]
