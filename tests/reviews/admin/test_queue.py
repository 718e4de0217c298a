"""The review queue in the admin."""

import pytest

from reviews.models import ReviewItem
from tests.clients import changelist

pytestmark = pytest.mark.django_db


def test_the_review_queue_lists_only_items_in_review_most_escalated_first(superuser_client, fleet):
    response = superuser_client.get(changelist(ReviewItem))

    items = list(response.context["cl"].result_list)
    assert [item.pk for item in items] == [fleet["escalated"].pk, fleet["waiting"].pk]
    html = response.content.decode()
    assert "escalated_one" in html and "waiting_one" in html
    assert "working_one" not in html and "done_one" not in html
