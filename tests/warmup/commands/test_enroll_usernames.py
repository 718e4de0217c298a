"""enroll_accounts refuses a username its platform could not have (issue #20): each platform's
pattern is in warmup.domain.usernames, and a refused row names its line and the rule."""

import pytest
from django.core.management.base import CommandError

from tests.warmup.commands.conftest import run
from warmup.domain.usernames import USERNAME_PATTERNS
from warmup.models import Account, Platform

pytestmark = pytest.mark.django_db

HOSTILE = "=cmd|' /C calc'!A0"


def test_every_platform_has_a_pattern():
    assert set(USERNAME_PATTERNS) == set(Platform.values)


@pytest.mark.parametrize(
    ("platform", "username"),
    [
        ("instagram", HOSTILE),
        ("instagram", "a" * 31),
        ("instagram", "luna-bakes"),
        ("tiktok", "a"),
        ("tiktok", "a" * 25),
        ("tiktok", "milo travels"),
        ("x", "a" * 16),
        ("x", "nova.fit"),
        ("facebook", "abcd"),
        ("facebook", "luna_bakes"),
        ("youtube", "ab"),
        ("youtube", "cooking daily"),
        ("youtube", "+1"),
        ("x", "-1"),
    ],
)
def test_a_username_the_platform_could_not_have_is_refused_with_its_line(
    write_csv, platform, username
):
    text = f'platform,username\ninstagram,luna_bakes\n{platform},"{username}"\n'

    with pytest.raises(CommandError) as excinfo:
        run("enroll_accounts", write_csv(text), dry_run=True)

    message = str(excinfo.value)
    assert "1 of 2 rows are invalid; nothing was imported" in message
    label = Platform(platform).label
    assert f"line 3: {username!r} is not possible on {label}: usernames there are" in message
    assert not Account.objects.exists()


@pytest.mark.parametrize(
    ("platform", "username"),
    [
        ("instagram", "luna.bakes_2"),
        ("instagram", "a"),
        ("tiktok", "milo.travels"),
        ("x", "Nova_Fit15chars"),
        ("facebook", "luna.bakes"),
        ("youtube", "cooking-daily.tv"),
    ],
)
def test_a_username_that_fits_its_platform_is_enrolled(write_csv, platform, username):
    run("enroll_accounts", write_csv(f"platform,username\n{platform},@{username}\n"))

    assert list(Account.objects.values_list("platform", "username")) == [(platform, username)]
