"""A reviewer's page whose database work gives up (a row locked past the lock timeout) is the
admin's own 503 page saying nothing changed and to try again, not a 500; the item is as it was.
The admin and the APIs answer the same database errors, with the same Retry-After."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.db.utils import IntegrityError, InterfaceError, OperationalError
from django.urls import reverse

from config import database
from config.api.errors import DATABASE_UNAVAILABLE
from config.middleware import DATABASE_BUSY
from reviews.models import ReviewLog
from tests.clients import REVIEWS, assert_error
from tests.conftest import requires_postgres
from tests.factories import UserFactory, new_item_in_review
from warmup.models import PhaseStatus, WarmupPhase

WAIT = 60  # seconds; a thread still waiting after this is a hang


def test_a_database_error_on_an_admin_page_is_a_503_try_again_page(client, db, monkeypatch):
    client.force_login(UserFactory(reviewer=True))

    def gives_up(*args, **kwargs):
        raise OperationalError("canceling statement due to lock timeout")

    monkeypatch.setattr("reviews.admin.queue.ReviewItemAdmin.get_queryset", gives_up)
    response = client.get(reverse("admin:reviews_reviewitem_changelist"))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert DATABASE_BUSY in response.content.decode()


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("canceling statement due to lock timeout"),
        InterfaceError("connection already closed"),
    ],
    ids=["lock-timeout", "connection-closed"],
)
def test_the_admin_and_the_api_answer_an_outage_with_the_same_retry_after(
    client, reviewer, reviewer_api, monkeypatch, error
):
    # given: one Retry-After for database errors, other than the default, so an edge that
    # kept a number of its own would show
    monkeypatch.setattr(database, "RETRY_AFTER_SECONDS", 17)
    client.force_login(reviewer)

    def gives_up(*args, **kwargs):
        raise error

    monkeypatch.setattr("reviews.admin.queue.ReviewItemAdmin.get_queryset", gives_up)
    monkeypatch.setattr("reviews.api.views.ReviewQueueView.get_queryset", gives_up)

    # when: the reviewer opens the queue in the admin and through the API
    page = client.get(reverse("admin:reviews_reviewitem_changelist"))
    api = reviewer_api.get(REVIEWS)

    # then: both say "busy, retry" with the one Retry-After
    assert page.status_code == 503
    assert DATABASE_BUSY in page.content.decode()
    assert assert_error(api, 503, "database_unavailable")["detail"] == DATABASE_UNAVAILABLE
    assert page["Retry-After"] == api["Retry-After"] == "17"


def test_a_database_error_a_retry_cannot_cure_is_no_try_again_page(client, reviewer, monkeypatch):
    client.force_login(reviewer)
    client.raise_request_exception = False

    def broken(*args, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr("reviews.admin.queue.ReviewItemAdmin.get_queryset", broken)
    response = client.get(reverse("admin:reviews_reviewitem_changelist"))

    assert response.status_code == 500
    assert "Retry-After" not in response


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_resolution_waiting_on_a_locked_row_past_the_lock_timeout_changes_nothing(
    client, bot, content_pool, default_plan
):
    item = new_item_in_review(bot)
    client.force_login(UserFactory(reviewer=True))
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                WarmupPhase.objects.select_for_update().get(pk=item.pk)
                held.set()
                release.wait(WAIT)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(WAIT)
        url = reverse("admin:reviews_reviewitem_act", args=[item.pk, "resume"])
        response = client.post(
            url, {"reason_code": "other", "note": "back to work"}, HTTP_REFERER="/admin/"
        )
    finally:
        release.set()
        holder.join(WAIT)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout TO DEFAULT")

    assert response.status_code == 503
    assert DATABASE_BUSY in response.content.decode()
    assert WarmupPhase.objects.get(pk=item.pk).status == PhaseStatus.REVIEW_REQUIRED
    assert not ReviewLog.objects.filter(phase=item, resolution_method__gt="").exists()
