"""The read replica (config/replica.py): the heavy reads go to a hot standby while it answers and
keeps up, everything else to the primary, and a replica that stops or falls behind costs a log
line, never an error.

The tests marked `standby` read a real streaming replica: a second PostgreSQL cluster on this
machine, a hot standby of the one the tests run on (`scripts/standby.sh start`, which `.ci/run`
runs), on port TEST_STANDBY_PORT. Without it they skip, unless REQUIRE_STANDBY=1 (as in
`.ci/run`), where they fail.
"""

import logging
import os
import time

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config import replica
from config.replica import PRIMARY, REPLICA, ReplicaRouter, Source, read_heavy
from reviews.models import ReviewLog
from tests.conftest import requires_postgres
from tests.factories import UserFactory, WarmupPhaseFactory
from warmup.models import WarmupPhase

DASHBOARD = "/admin/reviews/dashboard/"
STANDBY_PORT = os.environ.get("TEST_STANDBY_PORT", "")
REQUIRED = os.environ.get("REQUIRE_STANDBY") == "1"
DEAD_PORT = "1"  # nothing listens there: a replica that is down


@pytest.fixture(autouse=True)
def _fresh_checks():
    replica.forget_replica_check()
    yield
    replica.forget_replica_check()


@pytest.fixture(scope="module")
def replica_alias(django_db_setup, django_db_blocker):
    """The `replica` alias for this module's tests, pointed at the standby (or, without one,
    at a port nothing answers on), holding the test database. Added before each test's
    database access is set up, so the tests may declare it (`databases=`)."""
    from django.conf import settings

    primary = connections["default"].settings_dict
    if primary["ENGINE"] != "django.db.backends.postgresql":
        yield None
        return
    settings_dict = {
        **primary,
        "PORT": STANDBY_PORT or DEAD_PORT,
        "OPTIONS": {**primary.get("OPTIONS", {}), "connect_timeout": 2},
        "TEST": {**primary.get("TEST", {}), "MIRROR": "default"},
    }
    settings.DATABASES[REPLICA] = settings_dict
    connections.settings[REPLICA] = settings_dict
    yield settings_dict
    if hasattr(connections._connections, REPLICA):
        connections[REPLICA].close()
        del connections[REPLICA]
    connections.settings.pop(REPLICA, None)
    settings.DATABASES.pop(REPLICA, None)


def _fresh_replica_connection() -> None:
    if hasattr(connections._connections, REPLICA):
        connections[REPLICA].close()
        del connections[REPLICA]


@pytest.fixture
def on_postgresql(replica_alias):
    if replica_alias is None:
        pytest.skip("a replica needs PostgreSQL")
    return replica_alias


@pytest.fixture
def standby(on_postgresql, default_plan):
    if not STANDBY_PORT:
        message = "no standby: scripts/standby.sh start, then TEST_STANDBY_PORT=5433"
        if REQUIRED:
            pytest.fail(f"REQUIRE_STANDBY=1 but {message}")
        pytest.skip(message)
    return connections[REPLICA]


@pytest.fixture
def dead_replica(on_postgresql, default_plan):
    """The replica down: its address answers nothing."""
    port = on_postgresql["PORT"]
    on_postgresql["PORT"] = DEAD_PORT
    _fresh_replica_connection()
    yield
    on_postgresql["PORT"] = port
    _fresh_replica_connection()


def WITH_REPLICA(test):  # noqa: N802 (a mark)
    """A test reading through the `replica` alias (PostgreSQL only)."""
    marked = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])(test)
    return requires_postgres(marked)


def caught_up(standby, timeout: float = 10.0) -> None:
    """Wait until the standby has replayed everything the primary wrote so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        (target,) = cursor.fetchone()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with standby.cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    pytest.fail("the standby did not catch up within 10 s")


def reviewer_client() -> Client:
    client = Client()
    client.force_login(UserFactory(reviewer=True))
    return client


# --- The router, without a replica ---------------------------------------------------------


def test_without_a_replica_heavy_reads_run_on_the_primary(db, settings):
    settings.DATABASES = {k: v for k, v in settings.DATABASES.items() if k != REPLICA}
    count, source = read_heavy(lambda: WarmupPhase.objects.count())

    assert (count, source) == (0, PRIMARY)
    assert not source.replica


def test_inside_a_heavy_read_the_router_sends_reads_where_it_decided_and_writes_never():
    router = ReplicaRouter()
    assert router.db_for_read(WarmupPhase) is None  # outside: Django's default
    with replica._reading_from(Source(REPLICA, 0.0)):
        assert router.db_for_read(WarmupPhase) == REPLICA
        assert router.db_for_write(WarmupPhase) == "default"
    assert router.allow_migrate(REPLICA, "warmup") is False
    assert router.allow_migrate("default", "warmup") is True


@WITH_REPLICA
def test_a_replica_that_is_down_is_skipped_with_a_log_line(dead_replica, caplog):
    caplog.set_level(logging.WARNING, logger="warmup.replica")

    count, source = read_heavy(lambda: WarmupPhase.objects.count())

    assert source == PRIMARY and count == 0
    assert "replica unavailable, reading from the primary" in caplog.text


@WITH_REPLICA
def test_the_dashboard_answers_from_the_primary_when_the_replica_is_down(dead_replica, caplog):
    caplog.set_level(logging.WARNING, logger="warmup.replica")

    page = reviewer_client().get(DASHBOARD)

    assert page.status_code == 200
    assert "from the read replica" not in page.content.decode()
    assert "replica unavailable" in caplog.text


@WITH_REPLICA
def test_a_replica_failing_during_a_read_has_the_read_run_again_on_the_primary(
    on_postgresql, default_plan, caplog, monkeypatch
):
    caplog.set_level(logging.WARNING, logger="warmup.replica")
    monkeypatch.setattr(replica, "replica_source", lambda: Source(REPLICA, 0.0))
    calls = []

    def read():
        calls.append(replica._reading.get().alias)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return "figures"

    assert read_heavy(read) == ("figures", PRIMARY)
    assert calls == [REPLICA, "default"]
    assert "replica failed during a read" in caplog.text


# --- A real streaming replica ----------------------------------------------------------------


@WITH_REPLICA
def test_the_dashboard_reads_the_standby_and_says_how_old_its_figures_are(
    standby, content_pool, bot
):
    WarmupPhaseFactory(in_review=True, bot=bot, category="proxy_error", retryable=False)
    client = reviewer_client()
    caught_up(standby)

    with CaptureQueriesContext(standby) as on_standby:
        page = client.get(DASHBOARD)

    assert page.status_code == 200
    html = page.content.decode()
    assert "from the read replica" in html
    assert 'id="dash-queue-total">1<' in html  # the standby's copy of what the test wrote
    assert len(on_standby) > 3  # the dashboard's figures, and the lag check before them
    with standby.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone() == (True,)


@WITH_REPLICA
def test_metrics_report_and_integrity_read_the_standby(standby, content_pool, bot, settings):
    from django.core.management import call_command

    settings.METRICS_TOKEN = ""
    WarmupPhaseFactory(in_review=True, bot=bot, category="proxy_error", retryable=False)
    caught_up(standby)

    with CaptureQueriesContext(standby) as on_standby:
        assert Client().get("/metrics").status_code == 200
    assert any("warmup_warmupphase" in q["sql"] for q in on_standby)

    for command in (["review_report", "--format", "json"], ["check_warmup_integrity"]):
        with CaptureQueriesContext(standby) as on_standby:
            call_command(*command, stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"))
        assert any("reviews_reviewlog" in q["sql"] for q in on_standby), command


@WITH_REPLICA
def test_writes_and_the_queue_a_reviewer_acts_on_never_touch_the_standby(
    standby, content_pool, bot
):
    item = WarmupPhaseFactory(in_review=True, bot=bot, category="proxy_error", retryable=False)
    client = reviewer_client()
    caught_up(standby)

    with CaptureQueriesContext(standby) as on_standby:
        assert client.get("/admin/reviews/reviewitem/").status_code == 200
        answer = client.post(
            f"/admin/reviews/reviewitem/{item.pk}/act/resume/",
            {"reason_code": "replaced_proxy", "note": "new proxy"},
        )

    assert answer.status_code == 302
    assert ReviewLog.objects.filter(phase=item, action="resumed").exists()
    assert on_standby.captured_queries == []


@WITH_REPLICA
def test_a_standby_that_falls_behind_is_skipped_until_it_catches_up(
    standby, settings, content_pool, bot, caplog
):
    caplog.set_level(logging.WARNING, logger="warmup.replica")
    settings.REPLICA_MAX_LAG_SECONDS = 1
    settings.REPLICA_CHECK_SECONDS = 0
    with standby.cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
    try:
        WarmupPhaseFactory(in_review=True, bot=bot, category="proxy_error", retryable=False)
        time.sleep(1.5)

        count, source = read_heavy(lambda: WarmupPhase.objects.count())

        assert source == PRIMARY and count > 0
        assert "replica lags, reading from the primary" in caplog.text
    finally:
        with standby.cursor() as cursor:
            cursor.execute("SELECT pg_wal_replay_resume()")
    caught_up(standby)
    _, source = read_heavy(lambda: WarmupPhase.objects.count())
    assert source.replica and source.lag < 1
