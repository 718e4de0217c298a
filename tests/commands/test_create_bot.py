import pytest
from django.core.management.base import CommandError

from tests.commands.conftest import run
from warmup.models import Bot
from warmup.services.bots import bot_authenticate

pytestmark = pytest.mark.django_db


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
