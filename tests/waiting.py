"""Wait for something to become true instead of sleeping for a guessed while."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10, what: str = "") -> T:
    """Call `predicate` every 50 ms until it returns something true, and return that; fail with
    `what` (what was awaited) once `timeout` seconds pass. An exception in `predicate` ends the
    wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what or predicate}")
        time.sleep(0.05)
