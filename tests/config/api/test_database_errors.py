"""A database error a retry can cure (a dropped connection, a deadlock, a lock timeout) is a
JSON 503 the client can retry, on both APIs, not a 500. The real thing, a connection
terminated under a bot's report over HTTP, is in tests/reliability/test_faults.py."""

import pytest
from django.db import InterfaceError, OperationalError

from config.api.errors import DATABASE_UNAVAILABLE
from config.database import RETRY_AFTER_SECONDS
from tests.clients import REVIEWS, assert_error, claim
from tests.factories import WarmupPhaseFactory


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("terminating connection due to administrator command"),
        InterfaceError("connection already closed"),
    ],
)
def test_a_lost_database_connection_is_a_503_the_bot_can_retry(
    account, bot_api, monkeypatch, caplog, error
):
    WarmupPhaseFactory(account=account, content_assigned=True)

    def lose_the_connection(**kwargs):
        raise error

    monkeypatch.setattr("warmup.api.views.phase_claim", lose_the_connection)

    response = claim(bot_api)

    body = assert_error(response, 503, "database_unavailable")
    assert body["detail"] == DATABASE_UNAVAILABLE
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert str(error) in caplog.text  # the cause is logged, not only counted as a 503

    # and once the database is back, the same claim goes through
    monkeypatch.undo()
    assert claim(bot_api).status_code == 200


def test_the_review_api_answers_a_lost_connection_alike(reviewer_api, monkeypatch):
    def lose_the_connection(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("reviews.api.views.ReviewQueueView.get_queryset", lose_the_connection)

    assert_error(reviewer_api.get(REVIEWS), 503, "database_unavailable")


def test_an_error_a_retry_cannot_cure_is_still_a_500(account, bot_api, monkeypatch):
    WarmupPhaseFactory(account=account, content_assigned=True)

    def bug(**kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr("warmup.api.views.phase_claim", bug)
    bot_api.raise_request_exception = False

    response = claim(bot_api)

    assert_error(response, 500, "server_error")
