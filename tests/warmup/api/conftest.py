"""Fixtures for the bot API tests; the shared clients are in tests/conftest.py."""

import pytest

from tests.clients import bot_client


@pytest.fixture
def other_bot_api(other_bot):
    return bot_client(other_bot)
