"""`assert_integrity()`: run `manage.py check_warmup_integrity` and fail the test with every
violation it printed. For any test that wants to prove its scenario left the data whole."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def run_integrity_check(*args) -> tuple[int, str]:
    """Run the command; returns (exit code, what it printed on stdout and in its error)."""
    out = StringIO()
    try:
        call_command("check_warmup_integrity", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, f"{out.getvalue()}{exc}"
    return 0, out.getvalue()


def assert_integrity() -> str:
    """Fail the calling test, printing the violations, unless the data passes every check.
    Returns the summary line."""
    code, printed = run_integrity_check()
    if code != 0:
        pytest.fail(f"check_warmup_integrity found violations:\n{printed}", pytrace=False)
    return printed
