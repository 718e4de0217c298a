"""The review log in the admin: append-only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviews.models import ReviewLog
from tests.clients import change, changelist
from tests.factories import UserFactory, WarmupPhaseFactory
from warmup.domain.actors import Actor
from warmup.services.resolutions import review_resume

pytestmark = pytest.mark.django_db


def test_the_review_log_cannot_be_added_changed_or_deleted(superuser_client, fleet):
    log = ReviewLog.objects.first()
    url = change(log)

    assert superuser_client.get(reverse("admin:reviews_reviewlog_add")).status_code == 403
    assert superuser_client.post(url, {"note": "edited"}).status_code == 403
    assert (
        superuser_client.post(url.replace("change", "delete"), {"post": "yes"}).status_code == 403
    )
    log.refresh_from_db()
    assert log.note != "edited"
    assert 'name="_save"' not in superuser_client.get(url).content.decode()


def test_the_log_page_costs_the_same_queries_for_4_or_40_rows(superuser_client):

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = superuser_client.get(changelist(ReviewLog))
        assert response.status_code == 200
        return len(captured), len(response.context["cl"].result_list)

    for _ in range(4):
        WarmupPhaseFactory(in_review=True)  # one row each: escalated to review
    few, shown_few = queries()
    for _ in range(36):
        WarmupPhaseFactory(in_review=True)
    many, shown_many = queries()

    assert shown_many > 5 * shown_few
    assert many == few


def test_a_row_shows_the_move_it_made_then_not_the_phase_status_now(superuser_client):

    item = WarmupPhaseFactory(in_review=True)
    review_resume(
        phase_id=item.pk,
        reason_code="fixed_credentials",
        note="new password",
        actor=Actor.for_user(UserFactory(reviewer=True)),
    )

    html = superuser_client.get(changelist(ReviewLog)).content.decode()

    assert "In progress \N{RIGHTWARDS ARROW} Review required" in html  # the escalation row
    assert "Review required \N{RIGHTWARDS ARROW} Available" in html  # the resolution row
    assert "Resume automation: fixed credentials" in html
