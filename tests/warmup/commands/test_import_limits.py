"""A value longer than its column holds is a row error with its line number, in a dry run too,
and nothing of the file is written (before, PostgreSQL stopped the import with a DataError)."""

import pytest
from django.core.management.base import CommandError

from tests.warmup.commands.conftest import run
from warmup.models import Account, ContentItem

pytestmark = pytest.mark.django_db

LONG_USERNAME = "a" * 151  # Account.username holds 150
LONG_TITLE = "T" * 201  # ContentItem.title holds 200
LONG_URL = "https://example.com/" + "p" * 481  # 501 characters; media_url holds 500


def accounts_file(username: str) -> str:
    return f"platform,username\ninstagram,luna_bakes\ninstagram,{username}\n"


def content_file(title: str = "Fine", media_url: str = "") -> str:
    return (
        "phase_type,title,body,media_url\n"
        "first_post,Morning bake,First loaf,\n"
        f"first_post,{title},Body,{media_url}\n"
    )


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_over_long_username_is_refused_with_its_line(write_csv, dry_run):
    with pytest.raises(CommandError) as excinfo:
        run("enroll_accounts", write_csv(accounts_file(LONG_USERNAME)), dry_run=dry_run)

    message = str(excinfo.value)
    assert "1 of 2 rows are invalid; nothing was imported" in message
    assert "line 3: the username is 151 characters long; at most 150 fit" in message
    assert not Account.objects.exists()


def test_a_username_of_exactly_the_limit_is_not_refused_for_its_length(write_csv):
    # (Instagram's own pattern refuses it, as it does any name over 30; the length does not)
    with pytest.raises(CommandError) as excinfo:
        run("enroll_accounts", write_csv(accounts_file("a" * 150)), dry_run=True)

    assert "characters long" not in str(excinfo.value)
    assert "line 3: 'aaa" in str(excinfo.value)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            {"title": LONG_TITLE},
            "line 3: the title is 201 characters long; at most 200 fit",
        ),
        (
            {"media_url": LONG_URL},
            "line 3: the media_url is 501 characters long; at most 500 fit",
        ),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_an_over_long_content_value_is_refused_with_its_line(write_csv, row, expected, dry_run):
    with pytest.raises(CommandError) as excinfo:
        run("import_content", write_csv(content_file(**row)), dry_run=dry_run)

    message = str(excinfo.value)
    assert "1 of 2 rows are invalid; nothing was imported" in message
    assert expected in message
    assert not ContentItem.objects.exists()


def test_skip_invalid_imports_the_rows_that_fit_and_reports_the_long_one(write_csv):
    out = run("import_content", write_csv(content_file(title=LONG_TITLE)), skip_invalid=True)

    assert list(ContentItem.objects.values_list("title", flat=True)) == ["Morning bake"]
    assert "skipped line 3: the title is 201 characters long; at most 200 fit" in out.stderr
