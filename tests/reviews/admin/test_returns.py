"""Items that came back, as a reviewer sees them: marked on their queue row and on their page
with who resolved them, how long ago and whether they failed again the same way; the queue
still reads a page in the same number of queries."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviews.models import ReviewItem
from tests.clients import changelist
from tests.factories import UserFactory, new_item_in_review
from tests.resolved import CAME_BACK, resolve_then
from warmup.domain.actors import Actor

pytestmark = pytest.mark.django_db

QUEUE = changelist(ReviewItem)
OTHER_REASON = "Instagram wants a selfie video"
SAME_WAY = "came back: resumed by rita 2 h ago, failed again the same way"
OTHER_WAY = (
    "came back: retried by rita 2 h ago, failed again a different way: "
    f"challenge_required on profile_bio: {OTHER_REASON}"
)


@pytest.fixture
def rita(db):
    return Actor.for_user(UserFactory(username="rita", reviewer=True))


@pytest.fixture
def reviewer_client(reviewer):
    client = Client()
    client.force_login(reviewer)
    return client


@pytest.fixture
def returned(content_pool, bot, rita, clock):
    """Three items in review: one resumed by rita that failed again the same way, one she
    retried that failed another way, one never resolved; two hours have passed since."""
    common = {"then": CAME_BACK, "bot": bot, "actor": rita}
    same = resolve_then(new_item_in_review(bot), method="resume", reason_code="other", **common)
    other = resolve_then(
        new_item_in_review(bot), method="retry", reason_code="other", reason=OTHER_REASON, **common
    )
    fresh = new_item_in_review(bot)
    clock.shift(timedelta(hours=2))
    return same, other, fresh


def row_of(html: str, phase) -> str:
    """The queue's row of `phase` (from its checkbox to the end of the row)."""
    return html.split(f'name="_selected_action" value="{phase.pk}"')[1].split("</tr>")[0]


def mark_of(row: str) -> str:
    """The came-back mark of a queue row as it reads (its tags left out), '' for none."""
    if 'class="came-back"' not in row:
        return ""
    mark = row.split('class="came-back"')[1].split(">", 1)[1].split("</div>")[0]
    return re.sub(r"<[^>]+>", "", mark).strip()


def item_page(client, phase) -> str:
    return client.get(reverse("admin:reviews_reviewitem_change", args=[phase.pk])).content.decode()


def test_the_queue_marks_the_rows_of_items_that_came_back(reviewer_client, returned):
    same, other, fresh = returned

    html = reviewer_client.get(QUEUE).content.decode()

    assert mark_of(row_of(html, same)) == SAME_WAY.replace(":", "", 1)
    # the row shows the new failure beside the mark; the mark's tooltip names its signature
    other_row = row_of(html, other)
    assert mark_of(other_row) == "came back retried by rita 2 h ago, failed again a different way"
    assert f'title="{OTHER_WAY}"' in other_row
    assert mark_of(row_of(html, fresh)) == ""


def test_the_item_page_says_it_came_back_and_how(reviewer_client, returned):
    same, other, fresh = returned

    assert f"C{SAME_WAY[1:]}." in item_page(reviewer_client, same)
    assert f"C{OTHER_WAY[1:]}." in item_page(reviewer_client, other)
    assert "Came back" not in item_page(reviewer_client, fresh)


def test_the_queue_reads_its_page_in_the_same_queries_however_many_came_back(
    reviewer_client, content_pool, bot, rita
):
    def page_queries() -> int:
        cache.clear()  # the sidebar's incidents are counted afresh (kept a few seconds)
        with CaptureQueriesContext(connection) as captured:
            response = reviewer_client.get(QUEUE)
        assert response.status_code == 200
        return len(captured.captured_queries)

    def add_returns(n):
        for _ in range(n):
            resolve_then(
                new_item_in_review(bot),
                method="resume",
                reason_code="other",
                then=CAME_BACK,
                bot=bot,
                actor=rita,
            )

    add_returns(2)
    few = page_queries()
    add_returns(8)
    many = page_queries()

    marks = reviewer_client.get(QUEUE).content.decode().count('<div class="came-back"')
    assert marks == 10
    assert many == few
