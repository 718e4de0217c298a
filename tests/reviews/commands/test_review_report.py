"""`manage.py review_report`: the same numbers as the stats API and the dashboard for the same
window, in a table, JSON or CSV; breakdowns; whether automatic retries worked; usage errors
exit 2 and print no report; an empty history reads plainly. The `history` fixture (resolutions
over days with every outcome) is in tests/history.py."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from reviews.admin.dashboard import duration_or_dash, window_start
from reviews.management.commands.review_report import (
    BAD_MOMENT,
    SINCE_IN_FUTURE,
    UNTIL_NOT_AFTER_SINCE,
    WIDTH,
    Command,
)
from tests.builders import fail
from tests.factories import FIRST_STEP, AccountFactory
from tests.history import WHY, bot_takes_it_again
from warmup.models import Account, Platform
from warmup.selectors import analytics
from warmup.services.bot_work import phase_claim, phase_complete
from warmup.services.resolutions import review_resume
from warmup.services.tick import tick

STATS = "/api/v1/reviews/stats/"
JSON_KEYS = [
    "window",
    "queue",
    "flow",
    "time_in_review",
    "resolutions",
    "reason_codes",
    "retry_effectiveness",
    "top_escalations",
    "oldest",
    "breakdown",
]


def report(*args) -> str:
    out = io.StringIO()
    call_command("review_report", *args, stdout=out)
    return out.getvalue()


def report_json(*args) -> dict:
    return json.loads(report(*args, "--format", "json"))


def report_csv(*args) -> dict:
    rows = list(csv.DictReader(io.StringIO(report(*args, "--format", "csv"))))
    assert list(rows[0]) == ["section", "key", "metric", "value"]
    return {(row["section"], row["key"], row["metric"]): row["value"] for row in rows}


def dashboard_csv(response) -> dict:
    rows = csv.DictReader(io.StringIO(response.content.decode()))
    return {(row["section"], row["key"], row["metric"]): row["value"] for row in rows}


def csv_table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def number(value: str):
    return None if value == "" else float(value)


def run_from_shell(capsys, *args) -> tuple[int, str, str]:
    """The command as `manage.py review_report ...` runs it: its exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(["manage.py", "review_report", *args])
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


# --- The report agrees with the stats API and the dashboard ----------------------------------


def test_report_agrees_with_the_stats_api_and_the_dashboard(history, client, reviewer):
    client.force_login(reviewer)
    since = window_start(7)

    api = client.get(STATS, {"since": since.isoformat()}).json()
    page = client.get(reverse("reviews-dashboard"), {"days": 7})
    exported = dashboard_csv(client.get(reverse("reviews-dashboard"), {"days": 7, "format": "csv"}))
    data = report_json("--since", since.isoformat())
    flat = report_csv("--since", since.isoformat())
    table = report("--since", since.isoformat())

    # then: JSON has its stable keys and the window asked for
    assert list(data) == JSON_KEYS
    assert datetime.fromisoformat(data["window"]["since"]) == since
    assert datetime.fromisoformat(data["window"]["until"]) == timezone.now()

    # the queue now: the same as the API's, the dashboard's and in the CSV
    assert data["queue"] == api["queue"]
    assert data["queue"]["total"] == page.context["queue_total"] == 2
    assert int(flat[("queue", "", "total")]) == 2
    for category, n in api["queue"]["by_category"].items():
        assert int(flat[("queue.by_category", category, "items")]) == n
    for level, n in api["queue"]["by_escalation_level"].items():
        assert int(flat[("queue.by_escalation_level", level, "items")]) == n

    # entering and leaving review: per day as the dashboard, and the totals it shows
    assert data["flow"]["entered"] == page.context["entered_total"] == 6
    assert data["flow"]["resolved"] == page.context["resolved_total"] == 4
    for day in data["flow"]["daily"]:
        assert int(exported[("flow.daily", day["day"], "entered")]) == day["entered"]
        assert int(exported[("flow.daily", day["day"], "resolved")]) == day["resolved"]
        assert int(flat[("flow.daily", day["day"], "entered")]) == day["entered"]
    assert int(flat[("flow", "", "entered")]) == 6

    # time in review, in seconds in JSON and CSV, in words in the table
    assert data["time_in_review"] == api["time_in_review"]
    assert data["time_in_review"]["median_seconds"] == 90 * 60
    for metric, value in api["time_in_review"].items():
        assert number(flat[("time_in_review", "", metric)]) == pytest.approx(value)
    assert f"median {page.context['median']}, 90th percentile {page.context['p90']}" in table
    assert "median 1 h 30 min" in table

    # resolutions by method and by reason code, with their success rates
    assert data["resolutions"] == api["resolutions"]
    for method, entry in data["resolutions"].items():
        for metric, value in entry.items():
            assert number(flat[("resolutions", method, metric)]) == value
            assert number(exported[("resolutions", method, metric)]) == value
    for code, entry in data["reason_codes"].items():
        for metric, value in entry.items():
            assert number(exported[("reason_codes", code, metric)]) == value
    assert data["reason_codes"]["solved_challenge"]["count"] == 4
    shown = {row["key"]: row for row in page.context["methods"]}
    assert line_of(table, "Resume automation").split()[-2:] == ["100", "%"]
    assert shown["resume"]["success_rate"] == "100 %"
    assert line_of(table, "Retry now").split()[2:] == ["2", "0", "1", "1", "0", "%"]

    # the oldest items: the dashboard's, in its order, with the same wait
    assert [i["phase_id"] for i in data["oldest"]] == [
        i["phase_id"] for i in page.context["oldest"]
    ]
    first = data["oldest"][0]
    assert first["phase_id"] == history["waiting"].pk
    assert first["seconds_in_review"] == page.context["oldest"][0]["seconds_in_review"]
    assert duration_or_dash(first["seconds_in_review"]) in line_of(table, first["account"])
    assert flat[("oldest", str(first["phase_id"]), "account")] == first["account"]


def line_of(table: str, text: str) -> str:
    lines = [line for line in table.splitlines() if text in line]
    assert lines, f"no line with {text!r} in:\n{table}"
    return lines[0]


def test_the_table_reads_in_a_terminal(history):
    # given: an item in review whose account name is far too long for a column
    waiting = history["waiting"]
    Account.objects.filter(pk=waiting.account_id).update(username="a-very-long-account-name-" * 4)

    table = report("--since", "7d", "--group-by", "phase_type")

    assert max(len(line) for line in table.splitlines()) <= WIDTH
    assert re.search(r" a-very-long-account-name\S*…  ", line_of(table, "a-very-long"))
    assert "In review now: 2 items" in table
    assert "Time in review (4 resolutions): median 1 h 30 min" in table
    assert "Level 2: over 4 h" in table
    assert "Action blocked" in line_of(table, "a-very-long")  # categories in words


# --- Breakdowns ------------------------------------------------------------------------------


@pytest.mark.parametrize("by", analytics.GROUP_KEYS)
def test_group_by_breaks_down_entries_and_resolutions(history, bot, by):
    since = window_start(7).isoformat()

    data = report_json("--since", since, "--group-by", by)
    flat = report_csv("--since", since, "--group-by", by)
    table = report("--since", since, "--group-by", by)

    rows = {row["key"]: row for row in data["breakdown"]["rows"]}
    assert data["breakdown"]["by"] == by
    # the rows add up to the window's totals
    assert sum(row["resolved"] for row in rows.values()) == data["flow"]["resolved"] == 4
    if by == "reason":  # entering review has no reason code
        assert {row["entered"] for row in rows.values()} == {None}
    else:
        assert sum(row["entered"] for row in rows.values()) == data["flow"]["entered"] == 6
    expected = {
        "category": {
            "challenge_required": (2, 2),
            "login_failed": (2, 1),
            "content_rejected": (1, 1),
            "action_blocked": (1, 0),
        },
        "phase_type": {FIRST_STEP: (6, 4)},
        "bot": {bot.name: (6, 4)},
        "reason": {"solved_challenge": (None, 4)},
    }.get(by)
    if by == "signature":  # an incident's title starts with its category: they add up to it
        by_category = {}
        for row in rows.values():
            category = row["title"].split(" on ")[0]
            entered, resolved = by_category.get(category, (0, 0))
            by_category[category] = (entered + row["entered"], resolved + row["resolved"])
        assert by_category == {
            "challenge_required": (2, 2),
            "login_failed": (2, 1),
            "content_rejected": (1, 1),
            "action_blocked": (1, 0),
        }
        assert all(re.fullmatch(r"[0-9a-f]{16}", key) for key in rows)
        for row in rows.values():
            assert line_of(table, row["key"]).lstrip().startswith(row["key"])
    elif expected is not None:
        assert {k: (r["entered"], r["resolved"]) for k, r in rows.items()} == expected
    else:  # platforms rotate between accounts
        assert set(rows) <= set(Platform.values)
    # most entries and resolutions first
    assert list(rows) == sorted(
        rows, key=lambda k: (-(rows[k]["entered"] or 0) - rows[k]["resolved"], k)
    )
    for key, row in rows.items():
        assert int(flat[(f"breakdown.{by}", key, "resolved")]) == row["resolved"]
        assert sum(row["by_method"].values()) == row["resolved"]
    assert "entering review and resolutions" in table
    assert max(len(line) for line in table.splitlines()) <= WIDTH


def test_group_by_reason_code_has_the_success_of_its_resumes_and_retries(history):
    data = report_json("--since", window_start(7).isoformat(), "--group-by", "reason")

    (row,) = data["breakdown"]["rows"]
    assert row["by_method"] == {"resume": 1, "retry": 2, "complete": 1, "skip": 0}
    assert (row["success"], row["failed"], row["pending"]) == (1, 1, 1)
    assert row["success_rate"] == 0.5
    assert row["median_seconds"] == 90 * 60


# --- Automatic retries -----------------------------------------------------------------------


def claim_new_first_step(bot):
    """A new account's first phase, claimed by `bot`."""
    account = AccountFactory()
    tick()
    phase = phase_claim(bot=bot, phase_types=[FIRST_STEP])
    assert phase is not None and phase.account_id == account.pk
    return phase


def retried(bot, clock, category="network_error"):
    """A new account's first phase whose first attempt failed and was retried; then its backoff
    passes and `bot` claims it again."""
    phase = claim_new_first_step(bot)
    assert fail(phase, bot, category).decision == "retry_scheduled"
    clock.shift(timedelta(minutes=10))
    return bot_takes_it_again(phase, bot)


@pytest.fixture
def retries(content_pool, bot, reviewer_actor, clock):
    """Retried failures: one 20 days ago that then worked (outside the window), and in the
    window one that worked, one that went to review, one that went to review and then worked
    after a reviewer's resume, and one not tried again yet."""
    old = retried(bot, clock)
    phase_complete(phase_id=old.pk, bot=bot, lease_token=old.lease_token)
    clock.shift(timedelta(days=20))
    # worked: the bot completed it at the next attempt
    worked = retried(bot, clock)
    phase_complete(phase_id=worked.pk, bot=bot, lease_token=worked.lease_token)
    # went to review: the next attempt needed a person
    to_review = retried(bot, clock)
    fail(to_review, bot, "login_failed")
    # went to review, and a reviewer's resume then worked: a success of the resume, not the retry
    resumed = retried(bot, clock)
    fail(resumed, bot, "challenge_required")
    clock.shift(timedelta(minutes=15))
    review_resume(phase_id=resumed.pk, actor=reviewer_actor, **WHY)
    again = bot_takes_it_again(resumed, bot)
    phase_complete(phase_id=resumed.pk, bot=bot, lease_token=again.lease_token)
    # not known yet: a proxy failure waiting for its next attempt
    waiting = claim_new_first_step(bot)
    fail(waiting, bot, "proxy_error")
    clock.shift(timedelta(minutes=1))


def test_retry_effectiveness_counts_retried_failures_whose_phase_then_completed(retries):
    data = report_json()  # the last 14 days
    table = report()

    assert data["retry_effectiveness"] == {
        "count": 4,
        "success": 1,
        "failed": 2,
        "pending": 1,
        "success_rate": 0.3333,
        "by_category": {
            "network_error": {
                "count": 3,
                "success": 1,
                "failed": 2,
                "pending": 0,
                "success_rate": 0.3333,
            },
            "proxy_error": {
                "count": 1,
                "success": 0,
                "failed": 0,
                "pending": 1,
                "success_rate": None,
            },
        },
    }
    assert data["retry_effectiveness"] == analytics.retry_effectiveness(
        since=timezone.now() - timedelta(days=14)
    )
    assert "Automatic retries: 4 failures retried" in table
    assert line_of(table, "Network error").split()[2:] == ["3", "1", "2", "0", "33", "%"]
    assert line_of(table, "  All  ").split() == ["All", "4", "1", "2", "1", "33", "%"]
    assert max(len(line) for line in table.splitlines()) <= WIDTH
    # the reviewer's resume of the retried phase worked, as a resolution
    assert data["resolutions"]["resume"]["success"] == 1


def test_retry_effectiveness_in_the_csv(retries):
    flat = report_csv()

    assert int(flat[("retry_effectiveness", "", "count")]) == 4
    assert float(flat[("retry_effectiveness", "", "success_rate")]) == 0.3333
    assert flat[("retry_effectiveness.by_category", "proxy_error", "success_rate")] == ""


# --- One CSV table: the report's and the dashboard's download -------------------------------

HOSTILE = "=cmd|' /C calc'!A0"  # a cell a spreadsheet would run as a command


def test_the_report_csv_and_the_dashboard_download_are_one_table(history, client, reviewer):
    client.force_login(reviewer)
    since = window_start(7)

    downloaded = client.get(reverse("reviews-dashboard"), {"days": 7, "format": "csv"})
    printed = report("--since", since.isoformat(), "--format", "csv")

    # then: the same header and the same rows, in the same order (the clock stands still)
    rows = csv_table(printed)
    assert rows[0] == ["section", "key", "metric", "value"]
    assert csv_table(downloaded.content.decode()) == rows
    sections = {row[0] for row in rows[1:]}
    assert {"window", "queue", "flow.daily", "resolutions", "retry_effectiveness"} <= sections
    assert {"top_escalations.bot", "oldest"} <= sections


def test_a_name_written_like_a_formula_is_neutralised_in_both_csvs(
    content_pool, bot, client, reviewer, clock
):
    # given: an account whose username a spreadsheet would run (enrolled before usernames
    # were checked against their platform's pattern), waiting in review
    account = AccountFactory()
    Account.objects.filter(pk=account.pk).update(username=HOSTILE)
    tick()
    phase = phase_claim(bot=bot, phase_types=[FIRST_STEP])
    fail(phase, bot, "challenge_required", retryable=False)
    client.force_login(reviewer)

    downloaded = csv_table(
        client.get(reverse("reviews-dashboard"), {"format": "csv"}).content.decode()
    )
    printed = csv_table(report("--format", "csv"))

    # then: both show it as text, behind a single quote, and no cell starts a formula
    for rows in (downloaded, printed):
        cells = [cell for row in rows for cell in row]
        assert ["oldest", str(phase.pk), "account", "'" + HOSTILE] in rows
        assert HOSTILE not in cells
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


# --- The window ------------------------------------------------------------------------------


def test_the_window_reads_dates_date_times_and_times_ago(db, clock):
    clock.move_to(datetime(2024, 5, 20, 15, 30, tzinfo=timezone.get_current_timezone()))
    now = timezone.now()

    def window(*args):
        w = report_json(*args)["window"]
        return datetime.fromisoformat(w["since"]), datetime.fromisoformat(w["until"])

    assert window() == (now - timedelta(days=14), now)
    assert window("--since", "7d") == (now - timedelta(days=7), now)
    assert window("--since", "2w", "--until", "24h") == (
        now - timedelta(weeks=2),
        now - timedelta(hours=24),
    )
    assert window("--since", "90min")[0] == now - timedelta(minutes=90)
    assert window("--since", "2024-05-01", "--until", "2024-05-02T09:30")[0] == datetime(
        2024, 5, 1, tzinfo=timezone.get_current_timezone()
    )
    assert window("--since", "2024-05-01T08:00+02:00")[0] == datetime(
        2024, 5, 1, 6, tzinfo=timezone.get_current_timezone()
    )


# --- Usage errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--since", "last week"], BAD_MOMENT.format(value="last week")),
        (["--until", "2024-02-30"], BAD_MOMENT.format(value="2024-02-30")),
        (["--since", "7 days"], BAD_MOMENT.format(value="7 days")),
        (["--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["--group-by", "colour"], "argument --group-by: invalid choice: 'colour'"),
    ],
)
def test_bad_input_is_a_usage_error(capsys, args, message):
    code, out, err = run_from_shell(capsys, *args)

    assert code == 2
    assert out == ""
    assert message in err and "usage: manage.py review_report" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--since", "2024-05-08", "--until", "2024-05-01"],
            UNTIL_NOT_AFTER_SINCE.format(
                until="2024-05-01T00:00:00+00:00", since="2024-05-08T00:00:00+00:00"
            ),
        ),
        (
            ["--since", "2024-05-08", "--until", "2024-05-08"],
            UNTIL_NOT_AFTER_SINCE.format(
                until="2024-05-08T00:00:00+00:00", since="2024-05-08T00:00:00+00:00"
            ),
        ),
        (["--since", "2099-01-01"], SINCE_IN_FUTURE.format(since="2099-01-01T00:00:00+00:00")),
    ],
)
def test_a_window_that_cannot_be_is_a_usage_error(capsys, args, message):
    code, out, err = run_from_shell(capsys, *args)

    assert code == 2
    assert out == ""
    assert err.strip() == f"CommandError: {message}"


def test_help_documents_the_window_formats_and_exit_codes(capsys):
    code, out, err = run_from_shell(capsys, "--help")

    assert code == 0
    assert "7d, 24h, 90min, 2w" in out
    assert "section,key,metric,value" in out
    assert "exit status:" in out
    assert "2  a usage error, and no report" in out
    assert "{category,phase_type,bot,platform,reason,signature}" in out


# --- An empty history ------------------------------------------------------------------------


def test_an_empty_history_reads_plainly(db):
    table = report("--group-by", "bot")
    data = report_json()

    assert "In review now: nothing." in table
    assert "Entering and leaving review: nothing entered review or was resolved." in table
    assert "Time in review: no resolutions in this window." in table
    assert "Automatic retries: no failure was retried in this window." in table
    assert "Waiting longest: nothing is in review." in table
    assert (
        "By bot: entering review and resolutions: nothing entered review or was resolved." in table
    )
    assert "Traceback" not in table and "None" not in table
    assert data["queue"] == {"total": 0, "by_category": {}, "by_escalation_level": {}}
    assert data["flow"]["entered"] == data["flow"]["resolved"] == 0
    assert data["time_in_review"] == {"resolved": 0, "median_seconds": None, "p90_seconds": None}
    assert data["retry_effectiveness"]["count"] == 0
    assert data["retry_effectiveness"]["success_rate"] is None
    assert data["oldest"] == [] and data["breakdown"] is None
