"""Every CSV people open in a spreadsheet goes through `config.text.write_csv` (issue #20): a
name or note that starts like a formula (`=cmd|' /C calc'!A0`, `+1`, `-1`, `@x`) comes out
behind an apostrophe in every export, whatever column it is in."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory, WarmupPhaseFactory
from warmup.models import Account, Bot, FailureSignature, PhaseTemplate, WarmupPhase

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
USERNAME = "=cmd|' /C calc'!A0"
REASON = '=HYPERLINK("http://evil")'
STEP = "+1"
SIGNATURE = "-1"
ASSIGNEE = "@x"
BOT = "=1+1"


def test_no_code_writes_csv_but_write_csv():
    writers = re.compile(r"csv\.(writer|DictWriter)\b")
    offenders = [
        str(path.relative_to(ROOT))
        for top in ("config", "reviews", "warmup", "bots", "tools")
        if (ROOT / top).is_dir()
        for path in (ROOT / top).rglob("*.py")
        if writers.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == ["config/text.py"]


@pytest.fixture
def hostile_item(db):
    """An item in review whose every free-text value starts like a formula."""
    phase = WarmupPhaseFactory(in_review=True, reason=REASON, retryable=False)
    Account.objects.filter(pk=phase.account_id).update(username=USERNAME)
    Bot.objects.filter(pk=phase.bot_id).update(name=BOT)
    PhaseTemplate.objects.filter(pk=phase.template_id).update(name=STEP)
    FailureSignature.objects.filter(pk=phase.review_signature_id).update(title=SIGNATURE)
    assignee = UserFactory(username=ASSIGNEE, reviewer=True)
    WarmupPhase.objects.filter(pk=phase.pk).update(review_assignee=assignee)
    return phase


@pytest.fixture
def reviewer_client(reviewer):
    client = Client()
    client.force_login(reviewer)
    return client


def cells_of(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def assert_formula_safe(cells: list[str], *hostile: str) -> None:
    for value in hostile:
        assert "'" + value in cells, value
        assert value not in cells, value
    assert [cell for cell in cells if cell[:1] in FORMULA_STARTS] == []


def test_the_queue_csv(hostile_item, reviewer_client):
    response = reviewer_client.get("/admin/reviews/reviewitem/csv/")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    (row,) = rows
    assert row["failure reason"] == "'" + REASON
    assert row["step"] == "'" + STEP
    assert row["signature"] == "'" + SIGNATURE
    assert row["assignee"] == "'" + ASSIGNEE
    assert row["account"].endswith(USERNAME)  # "platform:username": not a formula
    assert_formula_safe([c for r in rows for c in r.values()], REASON, STEP, SIGNATURE, ASSIGNEE)


def test_the_dashboard_csv(hostile_item, reviewer_client):
    response = reviewer_client.get(reverse("reviews-dashboard"), {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")

    assert_formula_safe(cells_of(response.content.decode()), USERNAME, BOT)


def test_review_report_format_csv(hostile_item):
    out = io.StringIO()
    call_command("review_report", "--format", "csv", stdout=out)

    assert_formula_safe(cells_of(out.getvalue()), USERNAME, BOT)


@pytest.mark.parametrize("group_by", ["bot", "signature", "phase_type"])
def test_review_report_grouped_csv(hostile_item, group_by):
    out = io.StringIO()
    call_command("review_report", "--format", "csv", "--group-by", group_by, stdout=out)

    cells = cells_of(out.getvalue())
    assert [cell for cell in cells if cell[:1] in FORMULA_STARTS] == []
    expected = {"bot": BOT, "signature": SIGNATURE, "phase_type": None}[group_by]
    if expected:
        assert "'" + expected in cells
