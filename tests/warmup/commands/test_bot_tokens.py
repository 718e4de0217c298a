"""The bot token commands: create_bot, rotate_bot_token, deactivate_bot."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories import AccountFactory, WarmupPhaseFactory
from tests.warmup.commands.conftest import run
from warmup.models import Bot, PhaseStatus, WarmupPhase
from warmup.services.bots import bot_authenticate, bot_create

pytestmark = pytest.mark.django_db


def printed_lines(*args) -> list[str]:
    """What the command printed on stdout, line by line."""
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


# --- create_bot ----------------------------------------------------------------------------


def test_the_last_line_is_a_token_that_authenticates_the_new_bot():
    out = run("create_bot", "phone-farm-01")

    token = out.lines[-1]
    bot = Bot.objects.get(name="phone-farm-01")
    assert bot_authenticate(token) == bot
    assert "store" in out.lines[0].lower() and "not shown again" in out.lines[0]


def test_the_token_is_not_stored_in_plaintext():
    token = run("create_bot", "phone-farm-01").lines[-1]

    row = Bot.objects.filter(name="phone-farm-01").values().get()
    assert all(token not in str(value) for value in row.values())


def test_the_token_is_printed_exactly_once():
    out = run("create_bot", "phone-farm-01")

    token = out.lines[-1]
    assert (out.stdout + out.stderr).count(token) == 1


def test_a_duplicate_name_is_a_usage_error_and_keeps_the_first_bots_token_working():
    token = run("create_bot", "phone-farm-01").lines[-1]

    with pytest.raises(CommandError, match="A bot named 'phone-farm-01' already exists."):
        run("create_bot", "phone-farm-01")

    assert Bot.objects.filter(name="phone-farm-01").count() == 1
    assert bot_authenticate(token).name == "phone-farm-01"


def test_a_blank_name_is_a_usage_error():
    with pytest.raises(CommandError, match="A bot name is required."):
        run("create_bot", "   ")
    assert Bot.objects.count() == 0


# --- rotate_bot_token, deactivate_bot -------------------------------------------------------


def test_rotate_prints_a_new_token_last_and_the_old_one_stops_working(db):
    bot, old_token = bot_create(name="scout")

    new_token = printed_lines("rotate_bot_token", "scout")[-1]

    assert new_token != old_token
    assert bot_authenticate(new_token) == bot
    assert bot_authenticate(old_token) is None
    stored = Bot.objects.get(pk=bot.pk)
    assert new_token not in (stored.token_hash, stored.token_prefix)


def test_rotate_unknown_bot_is_a_usage_error(db):
    with pytest.raises(CommandError, match="No bot named 'ghost'"):
        printed_lines("rotate_bot_token", "ghost")


def test_deactivate_keeps_the_bot_but_marks_it_inactive(db):
    bot, token = bot_create(name="scout")

    lines = printed_lines("deactivate_bot", "scout")

    assert lines == ["Bot 'scout' is deactivated."]
    assert Bot.objects.get(pk=bot.pk).is_active is False
    # The token still identifies the bot, so the API can answer 403 rather than 401.
    assert bot_authenticate(token) == bot


def test_deactivate_says_how_the_leases_the_bot_held_ended(content_pool):
    bot, _ = bot_create(name="scout")
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_progress=True)

    lines = printed_lines("deactivate_bot", "scout")

    assert lines == [
        "Bot 'scout' is deactivated.",
        "Ended 1 lease it held: 1 to be retried, 0 sent to review.",
    ]
    assert not WarmupPhase.objects.filter(status=PhaseStatus.IN_PROGRESS).exists()


def test_deactivate_unknown_bot_is_a_usage_error(db):
    with pytest.raises(CommandError, match="No bot named 'ghost'"):
        printed_lines("deactivate_bot", "ghost")
