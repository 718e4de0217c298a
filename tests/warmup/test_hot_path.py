"""The bots' one-statement claim and completion (PostgreSQL): built from the status machine's
table, one statement each, and refusing every move the table refuses."""

import uuid
from datetime import timedelta
from itertools import product

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.builders import make_content_assigned, make_in_progress, make_phase_in, reload
from tests.conftest import requires_postgres
from warmup import hot_path
from warmup.models import AttemptOutcome, CompletionMethod, PhaseAttempt, PhaseStatus
from warmup.services.phases import phase_claim, phase_complete
from warmup.state import TRANSITIONS

S = PhaseStatus

pytestmark = [requires_postgres, pytest.mark.django_db]

REFUSED = [pair for pair in product(S.values, S.values) if pair not in TRANSITIONS]


def _statements(captured) -> list[str]:
    """The statements a service ran, without the savepoints of its transaction."""
    return [
        q["sql"] for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RE"))
    ]


def test_each_statement_makes_the_move_of_its_name_in_the_table():
    assert (hot_path.CLAIM_FROM, hot_path.CLAIM_TO) == (S.CONTENT_ASSIGNED, S.IN_PROGRESS)
    assert (hot_path.COMPLETE_FROM, hot_path.COMPLETE_TO) == (S.IN_PROGRESS, S.COMPLETED)
    assert (hot_path.UNLOCK_FROM, hot_path.UNLOCK_TO) == (S.PENDING, S.AVAILABLE)
    with pytest.raises(ValueError, match="0 moves named 'teleport'"):
        hot_path.move("teleport")


def test_a_claim_and_a_completion_are_one_statement_each(account, bot):
    make_content_assigned(account)
    with CaptureQueriesContext(connection) as claimed:
        phase = phase_claim(bot=bot)
    with CaptureQueriesContext(connection) as completed:
        done = phase_complete(
            phase_id=phase.pk, bot=bot, lease_token=phase.lease_token, result={"ok": 1}
        )
    assert len(_statements(claimed)) == 1
    assert len(_statements(completed)) == 1
    # What the bot's answer shows comes with the statement: no query to read it afterwards.
    with CaptureQueriesContext(connection) as read:
        assert (done.account.username, done.content.pk) == (account.username, phase.content.pk)
    assert read.captured_queries == []
    assert (phase.last_failure_details, done.last_failure_details) == ({}, {})
    attempt = PhaseAttempt.objects.get(lease_token=phase.lease_token)
    assert (attempt.number, attempt.outcome, attempt.result) == (
        1,
        AttemptOutcome.COMPLETED,
        {"ok": 1},
    )
    assert reload(done).completion_method == CompletionMethod.BOT
    assert account.phases.get(order=2).available_at is not None


def test_the_claim_and_the_completion_run_as_statements_prepared_on_the_server(account, bot):
    make_content_assigned(account)
    phase = phase_claim(bot=bot)
    phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)

    # the two statements are prepared on this connection, the ORM's queries are not
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any("INSERT INTO warmup_phaseattempt" in statement for statement in prepared)
    assert any("completion_method" in statement for statement in prepared)
    assert len(prepared) == 2
    # and their plans name the statuses, so the partial indexes serve even a generic plan
    assert all(f"'{S.CONTENT_ASSIGNED}'" in s or f"'{S.IN_PROGRESS}'" in s for s in prepared)


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_the_one_statement_moves_refuse_every_move_the_table_refuses(
    from_status, to_status, account, bot
):
    """Whatever status a phase is in, ready by its time and reported under its last lease by
    the bot that held it, the fast claim and completion only ever make a move of the table."""
    phase = make_phase_in(from_status, account, bot)
    type(phase).objects.filter(pk=phase.pk).update(
        next_attempt_at=timezone.now() - timedelta(hours=1)
    )
    last = PhaseAttempt.objects.filter(phase=phase).order_by("-number").first()
    token = phase.lease_token or (last.lease_token if last else uuid.uuid4())
    seen = [str(phase.status)]
    with transaction.atomic():
        hot_path.complete(
            phase_id=phase.pk,
            bot_id=bot.pk,
            token=token,
            now=timezone.now(),
            method=CompletionMethod.BOT,
            result={},
        )
        seen.append(reload(phase).status)
        hot_path.claim(bot_id=bot.pk, token=uuid.uuid4(), now=timezone.now())
        seen.append(reload(phase).status)
    moves = {
        (before, after) for before, after in zip(seen, seen[1:], strict=False) if before != after
    }
    assert (from_status, to_status) not in moves
    assert moves <= {(S.IN_PROGRESS, S.COMPLETED), (S.CONTENT_ASSIGNED, S.IN_PROGRESS)}
    if from_status not in (S.IN_PROGRESS, S.CONTENT_ASSIGNED):
        assert seen == [from_status] * 3


def test_a_report_on_a_lease_that_ran_out_is_left_to_the_full_path(account, bot, clock):
    phase = make_in_progress(account, bot)
    clock.shift(timedelta(days=8))
    with transaction.atomic():
        moved = hot_path.complete(
            phase_id=phase.pk,
            bot_id=bot.pk,
            token=phase.lease_token,
            now=timezone.now(),
            method=CompletionMethod.BOT,
            result={},
        )
    assert moved is None
    assert reload(phase).status == S.IN_PROGRESS
