"""PostgreSQL time limits as a bot meets them: every connection has DB_LOCK_TIMEOUT and
DB_STATEMENT_TIMEOUT, and a report that waits on a row lock longer than that answers a JSON 503
the bot can retry (and changes nothing), not a 500 and not a thread stuck for as long as the
lock is held."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from config.api.errors import DATABASE_UNAVAILABLE
from tests.builders import reload
from tests.clients import assert_error, report
from tests.conftest import requires_postgres
from tests.factories import WarmupPhaseFactory
from warmup.models import WarmupPhase

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_plan"),
]

WAIT = 60  # seconds; a thread still waiting after this is a hang


def test_every_connection_has_the_default_lock_and_statement_timeouts_and_no_jit():
    with connection.cursor() as cursor:
        shown = {}
        for name in ("lock_timeout", "statement_timeout", "jit"):
            cursor.execute(f"SHOW {name}")
            shown[name] = cursor.fetchone()[0]

    assert shown == {"lock_timeout": "10s", "statement_timeout": "30s", "jit": "off"}


@pytest.fixture
def short_lock_timeout():
    """This thread's connection (the test client's requests) waits 200 ms for a lock."""
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout TO DEFAULT")


@pytest.fixture
def row_lock_held():
    """Hold a phase's row lock in another connection until the test is done with it."""
    held, release = threading.Event(), threading.Event()
    threads = []

    def hold(phase_id: int):
        def run():
            try:
                with transaction.atomic():
                    WarmupPhase.objects.select_for_update().get(pk=phase_id)
                    held.set()
                    release.wait(WAIT)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)
        assert held.wait(WAIT), "the lock holder never got its lock"
        return release

    yield hold
    release.set()
    for thread in threads:
        thread.join(WAIT)


def test_a_report_waiting_on_a_locked_row_past_the_lock_timeout_is_a_503_to_retry(
    account, bot, bot_api, short_lock_timeout, row_lock_held
):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    before = reload(phase).lease_expires_at
    release = row_lock_held(phase.pk)

    response = report(bot_api, phase.pk, "heartbeat", lease_token=phase.lease_token)

    body = assert_error(response, 503, "database_unavailable")
    assert body["detail"] == DATABASE_UNAVAILABLE
    assert int(response["Retry-After"]) > 0
    # Nothing changed, and once the lock is gone the same report goes through.
    release.set()
    assert reload(phase).lease_expires_at == before
    retried = report(bot_api, phase.pk, "heartbeat", lease_token=phase.lease_token)
    assert retried.status_code == 200
    assert reload(phase).lease_expires_at > before
