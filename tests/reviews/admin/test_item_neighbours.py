"""An item page's "Next item" / "Previous item": the items around it in the queue it was opened
from (its filters and search kept in the address as `_changelist_filters`), in the list's order,
as plain links that work without JavaScript; the keys n and p follow them
(test_keyboard_in_browser.py)."""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import AccountFactory, WarmupPhaseFactory
from warmup.models import WarmupPhase
from warmup.selectors.queue import queue_neighbours, review_queue
from warmup.services.resolutions import review_resolve

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer_client(reviewer):
    client = Client()
    client.force_login(reviewer)
    return client


def item_page(client, phase, filters: str = "") -> str:
    url = reverse("admin:reviews_reviewitem_change", args=[phase.pk])
    if filters:
        url += "?" + urlencode({"_changelist_filters": filters})
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def link(html: str, label: str) -> str | None:
    """The address of the page's link `label` ("Next item"), unescaped; None without one."""
    found = re.search(rf'<a href="([^"]*)"[^>]*>{label}</a>', html)
    return found.group(1).replace("&amp;", "&") if found else None


def change_url(phase, filters: str = "") -> str:
    url = reverse("admin:reviews_reviewitem_change", args=[phase.pk])
    return url + ("?" + urlencode({"_changelist_filters": filters}) if filters else "")


@pytest.fixture
def queue_of_five(content_pool, bot, clock):
    """Five items in review, in the queue's order: one at level 2, two entering review at one
    instant (the id breaks the tie), one later, one at level 1 (set here; the tick raises
    levels by age)."""
    made = []
    for _ in range(3):
        made.append(WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True))
        clock.shift(timedelta(minutes=1))
    twin = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    WarmupPhase.objects.filter(pk=twin.pk).update(
        review_required_since=WarmupPhase.objects.get(pk=made[1].pk).review_required_since
    )
    made.append(twin)
    made.append(WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True))
    WarmupPhase.objects.filter(pk=made[2].pk).update(escalation_level=2)
    WarmupPhase.objects.filter(pk=made[4].pk).update(escalation_level=1)
    order = [item.pk for item in review_queue()]
    assert order == [made[2].pk, made[4].pk, made[0].pk, made[1].pk, made[3].pk]
    return [WarmupPhase.objects.get(pk=pk) for pk in order]


def test_each_items_neighbours_are_those_of_the_list_in_one_query(
    queue_of_five, django_assert_num_queries
):
    for at, item in enumerate(queue_of_five):
        with django_assert_num_queries(1):
            found = queue_neighbours(
                review_queue(),
                phase_id=item.pk,
                level=item.escalation_level,
                since=item.review_required_since,
            )
        before = queue_of_five[at - 1].pk if at else None
        after = queue_of_five[at + 1].pk if at + 1 < len(queue_of_five) else None
        assert (found.previous, found.next) == (before, after), f"item {at}"


def test_the_item_page_links_the_items_around_it_without_javascript(reviewer_client, queue_of_five):
    first, second, third = queue_of_five[:3]

    html = item_page(reviewer_client, second)

    assert link(html, "Previous item") == change_url(first)
    assert link(html, "Next item") == change_url(third)
    assert link(item_page(reviewer_client, first), "Previous item") is None
    assert link(item_page(reviewer_client, queue_of_five[-1]), "Next item") is None


def test_the_links_keep_to_the_filtered_queue_and_its_filters(reviewer_client, content_pool, bot):
    first = WarmupPhaseFactory(
        account=AccountFactory(), bot=bot, in_review=True, category="login_failed"
    )
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True, category="action_blocked")
    third = WarmupPhaseFactory(
        account=AccountFactory(), bot=bot, in_review=True, category="login_failed"
    )
    filters = "category=login_failed"

    html = item_page(reviewer_client, first, filters)

    assert link(html, "Next item") == change_url(third, filters)
    assert link(item_page(reviewer_client, third, filters), "Previous item") == change_url(
        first, filters
    )


def test_the_links_keep_to_the_search_and_pass_over_junk_filters_as_the_list_does(
    reviewer_client, content_pool, bot
):
    first = WarmupPhaseFactory(
        account=AccountFactory(platform="instagram", username="alpha1"), bot=bot, in_review=True
    )
    WarmupPhaseFactory(
        account=AccountFactory(platform="instagram", username="beta"), bot=bot, in_review=True
    )
    third = WarmupPhaseFactory(
        account=AccountFactory(platform="instagram", username="alpha2"), bot=bot, in_review=True
    )
    # a bot nobody has filters nothing on the list; nor does it here
    filters = "q=alpha&bot=nobody-has-it&escalation_level=junk"

    html = item_page(reviewer_client, first, filters)

    assert link(html, "Next item") == change_url(third, filters)


def test_a_resolved_item_links_the_items_around_the_place_it_left(
    reviewer_client, reviewer_actor, queue_of_five
):
    before, resolved, after = queue_of_five[1:4]
    review_resolve(
        phase_id=resolved.pk, method="skip", reason_code="other", note="n", actor=reviewer_actor
    )

    html = item_page(reviewer_client, resolved)

    assert "This phase is not in review" in html
    assert link(html, "Previous item") == change_url(before)
    assert link(html, "Next item") == change_url(after)


def test_an_item_never_in_review_has_no_links(reviewer_client, content_pool, bot):
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    working = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_progress=True)

    html = item_page(reviewer_client, working)

    assert link(html, "Next item") is None and link(html, "Previous item") is None


def test_after_an_action_on_the_item_page_its_links_keep_the_filters(
    reviewer_client, content_pool, bot
):
    first = WarmupPhaseFactory(
        account=AccountFactory(), bot=bot, in_review=True, category="login_failed"
    )
    WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True, category="action_blocked")
    third = WarmupPhaseFactory(
        account=AccountFactory(), bot=bot, in_review=True, category="login_failed"
    )
    filters = "category=login_failed"
    html = item_page(reviewer_client, first, filters)
    action = re.search(r'<form method="post" action="([^"]*/act/skip/[^"]*)"', html).group(1)

    # when: the reviewer skips it with the page's form
    response = reviewer_client.post(
        action.replace("&amp;", "&"), {"reason_code": "other", "note": "n"}, follow=True
    )

    # then: back on the item, resolved, its next item is of the filtered queue
    (address, _), *_ = response.redirect_chain
    assert address == change_url(first, filters)
    html = response.content.decode()
    assert "Skipped" in html
    assert link(html, "Next item") == change_url(third, filters)
