"""A bot's token is trusted for a few seconds without a lookup, and that never lets a bot that
is no longer active take work."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.builders import reload
from tests.clients import bot_client, claim
from tests.factories import WarmupPhaseFactory
from warmup.models import Bot, PhaseAttempt, PhaseStatus
from warmup.services.bots import bot_authenticate, bot_rotate_token


def _bot_lookups(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if Bot._meta.db_table in q["sql"]]


def test_a_bots_requests_in_a_row_look_its_token_up_once(account, bot):
    WarmupPhaseFactory(account=account, content_assigned=True)
    client = bot_client(bot)
    with CaptureQueriesContext(connection) as first:
        assert claim(client).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert claim(client).status_code == 204
    assert len(_bot_lookups(first)) >= 1
    # The claim's own check that the bot is active is part of its statement, not a lookup.
    assert [sql for sql in _bot_lookups(second) if "token_prefix" in sql] == []


def test_a_bot_deactivated_behind_the_cache_gets_no_work(account, bot, other_bot):
    """Another process deactivated it (no cache of ours was told): its token still passes for
    a few seconds, but its claim takes nothing and writes nothing, while the other bots of the
    fleet are still active."""
    assert other_bot.is_active
    phase = WarmupPhaseFactory(account=account, content_assigned=True)
    client = bot_client(bot)
    assert claim(client, phase_types=["no_such_type"]).status_code == 204  # token remembered
    Bot.objects.filter(pk=bot.pk).update(is_active=False)

    response = claim(client)

    assert response.status_code == 204
    assert reload(phase).status == PhaseStatus.CONTENT_ASSIGNED
    assert not PhaseAttempt.objects.filter(phase=phase).exists()


def test_a_rotated_token_is_forgotten_at_once(bot):
    assert bot_authenticate(bot.token) == bot
    bot_rotate_token(name=bot.name)
    assert bot_authenticate(bot.token) is None
