import pytest
from django.core.management.base import CommandError

from tests.factories import AccountFactory
from tests.warmup.commands.conftest import run
from warmup.models import Account, PhaseStatus, Platform, WarmupPhase, WarmupPlan

pytestmark = pytest.mark.django_db

GOOD = "platform,username\ninstagram,luna_bakes\ntiktok,@milo.travels\nx,nova_fit\n"


def enrolled() -> set[tuple[str, str]]:
    return set(Account.objects.values_list("platform", "username"))


def test_a_good_file_enrols_every_account_with_its_phases(write_csv):
    out = run("enroll_accounts", write_csv(GOOD))

    assert enrolled() == {
        ("instagram", "luna_bakes"),
        ("tiktok", "milo.travels"),
        ("x", "nova_fit"),
    }
    account = Account.objects.get(username="luna_bakes")
    assert account.plan.slug == "default"
    statuses = list(account.phases.order_by("order").values_list("status", flat=True))
    assert statuses[0] == PhaseStatus.AVAILABLE
    assert set(statuses[1:]) == {PhaseStatus.PENDING}
    assert "Enrolled 3 accounts on plan 'default' (instagram 1, tiktok 1, x 1)." in out.stdout


def test_whitespace_bom_case_and_blank_lines_are_tolerated(write_csv):
    text = " Platform , USERNAME \n\n  Instagram ,  luna_bakes  \n\nyoutube,  cooking_daily\n"

    run("enroll_accounts", write_csv(text, encoding="utf-8-sig"))

    assert enrolled() == {("instagram", "luna_bakes"), ("youtube", "cooking_daily")}


def test_invalid_rows_are_reported_with_line_numbers_and_nothing_is_imported(write_csv):
    AccountFactory(platform="x", username="taken_one")
    text = (
        "platform,username\n"  # line 1
        "instagram,luna_bakes\n"  # line 2: fine
        "myspace,tom\n"  # line 3: unknown platform
        "tiktok,   \n"  # line 4: blank username
        "instagram,luna_bakes\n"  # line 5: duplicate of line 2
        "x,taken_one\n"  # line 6: already enrolled
        "facebook,a,b\n"  # line 7: too many fields
        "youtube,fine_too\n"  # line 8: fine
    )
    before = enrolled()

    with pytest.raises(CommandError) as excinfo:
        run("enroll_accounts", write_csv(text))

    message = str(excinfo.value)
    assert "5 of 7 rows are invalid; nothing was imported" in message
    assert (
        "line 3: unknown platform 'myspace'; valid platforms are: " + ", ".join(Platform.values)
        in message
    )
    assert "line 4: a username is required." in message
    assert "line 5: instagram:luna_bakes is a duplicate of line 2" in message
    assert "line 6: account x:taken_one is already enrolled." in message
    assert "line 7: expected at most 2 fields, got 3" in message
    assert "line 2:" not in message and "line 8:" not in message
    assert enrolled() == before


def test_skip_invalid_imports_only_the_good_rows_and_reports_the_rest(write_csv):
    text = "platform,username\ninstagram,luna_bakes\nmyspace,tom\nyoutube,fine_too\n"

    out = run("enroll_accounts", write_csv(text), "--skip-invalid")

    assert enrolled() == {("instagram", "luna_bakes"), ("youtube", "fine_too")}
    assert "skipped line 3: unknown platform 'myspace'" in out.stderr
    assert "Enrolled 2 accounts" in out.stdout
    assert "skipped 1 invalid row." in out.stdout


def test_dry_run_previews_and_writes_nothing(write_csv):
    out = run("enroll_accounts", write_csv(GOOD), "--dry-run")

    assert Account.objects.count() == 0
    assert WarmupPhase.objects.count() == 0
    assert "line 3: tiktok:milo.travels" in out.stdout
    assert "Dry run: would have enrolled 3 accounts on plan 'default'" in out.stdout
    assert "nothing was written" in out.stdout


def test_dry_run_still_fails_on_invalid_rows(write_csv):
    with pytest.raises(CommandError, match="line 2: unknown platform 'orkut'"):
        run("enroll_accounts", write_csv("platform,username\norkut,x\n"), "--dry-run")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "The file is empty; its first line must be the header: platform,username."),
        ("\n \n", "The file is empty"),
        ("instagram,luna_bakes\n", "line 1: the header lacks column(s) platform, username"),
        ("\ninstagram,luna_bakes\n", "line 2: the header lacks column(s) platform, username"),
        ("platform,user\ninstagram,luna\n", "line 1: the header lacks column(s) username"),
        ("platform,username,email\nx,a,b\n", "line 1: unknown column(s) 'email' in the header"),
        ("platform,username,platform\n", "line 1: column(s) platform appear more than once"),
    ],
)
def test_a_wrong_or_missing_header_is_a_usage_error(write_csv, text, expected):
    with pytest.raises(CommandError) as excinfo:
        run("enroll_accounts", write_csv(text))

    assert expected in str(excinfo.value)
    assert "Nothing was imported" in str(excinfo.value)
    assert Account.objects.count() == 0


def test_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        run("enroll_accounts", str(tmp_path / "nope.csv"))


def test_a_file_that_is_not_utf8_is_a_usage_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("platform,username\ninstagram,caf\xe9\n".encode("latin-1"))

    with pytest.raises(CommandError, match="is not UTF-8 text"):
        run("enroll_accounts", str(path))


def test_an_unknown_plan_is_a_usage_error_naming_the_plans(write_csv):
    with pytest.raises(CommandError, match="Unknown plan 'turbo'; plans are: default"):
        run("enroll_accounts", write_csv(GOOD), "--plan", "turbo")
    assert Account.objects.count() == 0


def test_an_inactive_plan_is_a_usage_error(write_csv):
    WarmupPlan.objects.create(slug="old", name="Old plan", is_active=False)

    with pytest.raises(CommandError, match="Plan 'old' is not active"):
        run("enroll_accounts", write_csv(GOOD), "--plan", "old")


def test_plan_option_enrols_on_that_plan(write_csv):
    plan = WarmupPlan.objects.create(slug="short", name="Short")
    plan.templates.create(order=1, phase_type="profile_bio", name="Bio")

    run("enroll_accounts", write_csv(GOOD), "--plan", "short")

    assert set(Account.objects.values_list("plan__slug", flat=True)) == {"short"}
    assert WarmupPhase.objects.count() == 3  # one phase each


def test_a_quoted_field_with_a_newline_keeps_line_numbers_right(write_csv):
    text = 'platform,username\ninstagram,"luna\nbakes"\nmyspace,tom\n'

    with pytest.raises(CommandError) as excinfo:
        run("enroll_accounts", write_csv(text))

    assert "line 4: unknown platform 'myspace'" in str(excinfo.value)


def test_a_control_character_in_a_field_is_an_invalid_row(write_csv):
    text = "platform,username\ninstagram,ok_one\ninstagram,bad\x00one\n"

    with pytest.raises(CommandError) as excinfo:
        run("enroll_accounts", write_csv(text))

    assert "line 3: the username field contains a control character ('\\x00')" in str(excinfo.value)
    assert "pass --skip-invalid to import only the 1 valid row)" in str(excinfo.value)
    assert Account.objects.count() == 0


def test_malformed_csv_is_a_usage_error_with_its_line(write_csv):
    text = 'platform,username\ninstagram,ok_one\ninstagram,"never closed\n'

    with pytest.raises(CommandError, match="line 3: not valid CSV: unexpected end of data"):
        run("enroll_accounts", write_csv(text))
    assert Account.objects.count() == 0


def test_one_account_is_reported_in_the_singular(write_csv):
    out = run("enroll_accounts", write_csv("platform,username\nx,solo\n"))

    assert "Read " in out.lines[0] and ": 1 row, 1 valid, 0 invalid." in out.lines[0]
    assert out.lines[-1] == "Enrolled 1 account on plan 'default' (x 1)."
