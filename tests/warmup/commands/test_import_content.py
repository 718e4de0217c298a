import pytest
from django.core.management.base import CommandError

from tests.factories import ContentItemFactory
from tests.warmup.commands.conftest import run
from warmup.models import ContentItem

pytestmark = pytest.mark.django_db

HEADER = "phase_type,title,body,media_url\n"


def pool() -> set[tuple[str, str, str, str]]:
    return set(ContentItem.objects.values_list("phase_type", "title", "body", "media_url"))


def test_a_good_file_adds_every_item_to_the_pool(write_csv):
    text = HEADER + (
        'profile_bio,Home baker,"Sourdough nerd, Berlin",\n'
        "avatar,Warm portrait,,https://example.com/a/1.jpg\n"
        "first_post,Morning bake,First loaf of the week,https://example.com/p/1.jpg\n"
    )

    out = run("import_content", write_csv(text))

    assert pool() == {
        ("profile_bio", "Home baker", "Sourdough nerd, Berlin", ""),
        ("avatar", "Warm portrait", "", "https://example.com/a/1.jpg"),
        ("first_post", "Morning bake", "First loaf of the week", "https://example.com/p/1.jpg"),
    }
    assert ContentItem.objects.filter(is_active=True).count() == 3
    assert "Added 3 content items (avatar 1, first_post 1, profile_bio 1)." in out.stdout


def test_media_url_column_is_optional(write_csv):
    run("import_content", write_csv("\ufeffphase_type, title ,body\nfirst_story, Poll , Which?\n"))

    assert pool() == {("first_story", "Poll", "Which?", "")}


def test_invalid_rows_are_reported_with_line_numbers_and_nothing_is_imported(write_csv):
    ContentItemFactory(phase_type="avatar", title="Existing", body="", media_url="")
    text = HEADER + (
        "profile_bio,Good bio,Hello,\n"  # line 2: fine
        "follow_accounts,Follow list,x,\n"  # line 3: that phase takes no content
        "first_post,   ,caption,\n"  # line 4: blank title
        "first_post,Bad url,caption,ftp://example.com/x.jpg\n"  # line 5: not http(s)
        "first_post,Bad url 2,caption,not a url\n"  # line 6
        "profile_bio,Good bio,Hello,\n"  # line 7: duplicate of line 2
        "avatar,Existing,,\n"  # line 8: already in the pool
    )

    with pytest.raises(CommandError) as excinfo:
        run("import_content", write_csv(text))

    message = str(excinfo.value)
    assert "6 of 7 rows are invalid; nothing was imported" in message
    assert (
        "line 3: unknown phase type 'follow_accounts'; phase types that take content: "
        "avatar, first_post, first_story, profile_bio." in message
    )
    assert "line 4: a title is required." in message
    assert "line 5: media_url 'ftp://example.com/x.jpg' is not a valid http(s) URL." in message
    assert "line 6: media_url 'not a url' is not a valid http(s) URL." in message
    assert "line 7: duplicate of line 2 (profile_bio: 'Good bio')" in message
    assert "line 8: avatar: 'Existing' is already in the content pool" in message
    assert pool() == {("avatar", "Existing", "", "")}


def test_skip_invalid_imports_only_the_good_rows(write_csv):
    text = (
        HEADER + "profile_bio,Good bio,Hello,\nnope,Bad,x,\navatar,Pic,,https://example.com/a.png\n"
    )

    out = run("import_content", write_csv(text), "--skip-invalid")

    assert pool() == {
        ("profile_bio", "Good bio", "Hello", ""),
        ("avatar", "Pic", "", "https://example.com/a.png"),
    }
    assert "skipped line 3: unknown phase type 'nope'" in out.stderr
    assert "Added 2 content items" in out.stdout and "skipped 1 invalid row." in out.stdout


def test_dry_run_writes_nothing(write_csv):
    out = run("import_content", write_csv(HEADER + "profile_bio,Good bio,Hello,\n"), "--dry-run")

    assert ContentItem.objects.count() == 0
    assert "line 2: profile_bio: Good bio" in out.stdout
    assert "Dry run: would have added 1 content item" in out.stdout


@pytest.mark.parametrize(
    "text, expected",
    [
        ("title,body\nBio,Hello\n", "line 1: the header lacks column(s) phase_type"),
        ("phase_type,title,body,media_url,tags\n", "unknown column(s) 'tags'"),
        ("profile_bio,Bio,Hello\n", "the first line must be: phase_type,title,body,media_url"),
    ],
)
def test_a_wrong_header_is_a_usage_error(write_csv, text, expected):
    with pytest.raises(CommandError, match=None) as excinfo:
        run("import_content", write_csv(text))

    assert expected in str(excinfo.value)
    assert ContentItem.objects.count() == 0


def test_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        run("import_content", str(tmp_path / "missing.csv"))


def test_a_multi_line_caption_is_kept_and_later_lines_keep_their_numbers(write_csv):
    text = HEADER + 'first_post,Long,"Line one\nLine two",\nnope,Bad,x,\n'

    out = run("import_content", write_csv(text), "--skip-invalid")

    assert pool() == {("first_post", "Long", "Line one\nLine two", "")}
    assert "skipped line 4: unknown phase type 'nope'" in out.stderr
