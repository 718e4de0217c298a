"""The queue's list filters with many choices (the bots of a fleet): a box to type a name in,
offering every choice as a suggestion, not a column of links as long as the fleet."""

import re

import pytest
from django.test import Client

from reviews.admin.filters import LONG_LIST
from reviews.models import ReviewItem
from tests.clients import changelist
from tests.factories import BotFactory, UserFactory, WarmupPhaseFactory

pytestmark = pytest.mark.django_db

QUEUE = changelist(ReviewItem)


def as_reviewer(user=None) -> Client:
    client = Client()
    client.force_login(user or UserFactory(reviewer=True))
    return client


def sidebar(response) -> str:
    html = response.content.decode()
    return html[html.index('id="changelist-filter"') :]


def filter_block(response, title: str) -> str:
    """The sidebar's block of the filter titled `title`."""
    found = re.search(
        rf'<details data-filter-title="{title}".*?</details>', sidebar(response), re.S
    )
    assert found, f"no filter titled {title!r}"
    return found.group(0)


def hidden_fields(block: str) -> list[tuple[str, str]]:
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', block)


def suggestions(block: str) -> list[str]:
    return re.findall(r'<option value="([^"]+)"', block)


def test_a_fleet_of_bots_is_a_box_to_type_a_name_in_with_every_bot_suggested(content_pool):
    bots = BotFactory.create_batch(LONG_LIST + 3)
    WarmupPhaseFactory(in_review=True, bot=bots[0])

    block = filter_block(as_reviewer().get(QUEUE), "last bot")

    assert "?bot=" not in block  # no link per bot
    assert '<input type="search" name="bot"' in block
    assert sorted(suggestions(block)) == sorted(bot.name for bot in bots)
    assert "Type a name (15)" in block


def test_a_name_typed_in_the_box_filters_and_keeps_the_other_filters(content_pool):
    bots = BotFactory.create_batch(LONG_LIST + 1)
    wanted = WarmupPhaseFactory(
        in_review=True, bot=bots[0], category="proxy_error", retryable=False
    )
    WarmupPhaseFactory(in_review=True, bot=bots[0], category="login_failed", retryable=False)
    WarmupPhaseFactory(in_review=True, bot=bots[1], category="proxy_error", retryable=False)
    client = as_reviewer()

    filtered = client.get(QUEUE, {"category": "proxy_error", "o": "2"})
    block = filter_block(filtered, "last bot")
    # the box's form sends the other filters and the order beside the name typed
    assert hidden_fields(block) == [("category", "proxy_error"), ("o", "2")]
    answer = client.get(QUEUE, {**dict(hidden_fields(block)), "bot": bots[0].name})

    assert [item.pk for item in answer.context["cl"].result_list] == [wanted.pk]
    after = filter_block(answer, "last bot")
    assert f'value="{bots[0].name}"' in after and 'class="selected"' in after
    assert ("bot", bots[0].name) not in hidden_fields(after)  # the box holds it, once


def test_a_long_list_of_reviewers_keeps_me_and_unassigned_as_links(content_pool):
    me = UserFactory(reviewer=True, username="me-the-reviewer")
    others = UserFactory.create_batch(LONG_LIST, reviewer=True)
    WarmupPhaseFactory(in_review=True)
    client = as_reviewer(me)

    block = filter_block(client.get(QUEUE), "assignee")
    assert "Assigned to me</a>" in block and "Unassigned</a>" in block
    assert {user.username for user in others} <= set(suggestions(block))
    assert "me" not in suggestions(block) and "none" not in suggestions(block)

    mine = filter_block(client.get(QUEUE, {"assignee": "me"}), "assignee")
    assert re.search(r'<li class="selected"><a href="[^"]*">Assigned to me</a>', mine)
    assert 'value=""' in mine  # the box is empty: the choice is the link


def test_a_few_bots_are_links_as_before(content_pool):
    bots = BotFactory.create_batch(3)
    WarmupPhaseFactory(in_review=True, bot=bots[0])

    block = filter_block(as_reviewer().get(QUEUE), "last bot")

    assert '<input type="search"' not in block
    assert all(f"?bot={bot.name}" in block for bot in bots)
