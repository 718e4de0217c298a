"""Text helpers for what people read."""

import pytest

from config.text import spreadsheet_safe


@pytest.mark.parametrize(
    "value, cell",
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1", "'+1"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("phone-farm-01", "phone-farm-01"),
        (12, 12),
        ("", ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_quoted(value, cell):
    assert spreadsheet_safe(value) == cell
