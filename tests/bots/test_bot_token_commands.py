from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from warmup.models import Bot
from warmup.services.bots import bot_authenticate, bot_create


def run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_rotate_prints_a_new_token_last_and_the_old_one_stops_working(db):
    bot, old_token = bot_create(name="scout")

    new_token = run("rotate_bot_token", "scout")[-1]

    assert new_token != old_token
    assert bot_authenticate(new_token) == bot
    assert bot_authenticate(old_token) is None
    stored = Bot.objects.get(pk=bot.pk)
    assert new_token not in (stored.token_hash, stored.token_prefix)


def test_rotate_unknown_bot_is_a_usage_error(db):
    with pytest.raises(CommandError, match="No bot named 'ghost'"):
        run("rotate_bot_token", "ghost")


def test_deactivate_keeps_the_bot_but_marks_it_inactive(db):
    bot, token = bot_create(name="scout")

    lines = run("deactivate_bot", "scout")

    assert lines == ["Bot 'scout' is deactivated."]
    assert Bot.objects.get(pk=bot.pk).is_active is False
    # The token still identifies the bot, so the API can answer 403 rather than 401.
    assert bot_authenticate(token) == bot


def test_deactivate_unknown_bot_is_a_usage_error(db):
    with pytest.raises(CommandError, match="No bot named 'ghost'"):
        run("deactivate_bot", "ghost")
