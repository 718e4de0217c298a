"""The bots' one-statement claim and completion (PostgreSQL): built from the status machine's
table and the bots' declared moves, one statement each, writing what the ORM path writes, and
refusing every move the table refuses."""

import random
import uuid
from datetime import timedelta
from itertools import product

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews.models import ReviewLog
from tests.builders import reload
from tests.conftest import requires_postgres
from tests.factories import AccountFactory, WarmupPhaseFactory
from warmup.domain.actors import SYSTEM
from warmup.domain.choices import ReviewAction
from warmup.domain.errors import DomainError, LeaseLost, NotFound
from warmup.lifecycle.state import TRANSITIONS, assign_contents, move
from warmup.models import (
    MAX_LEASE,
    MAX_STEP_DELAY,
    Account,
    AttemptOutcome,
    CompletionMethod,
    FailureDecision,
    PhaseAttempt,
    PhaseStatus,
    PhaseTemplate,
    WarmupPhase,
    WarmupPlan,
)
from warmup.services import bot_statements
from warmup.services.accounts import account_pause
from warmup.services.bot_work import (
    FailureOutcome,
    phase_claim,
    phase_complete,
    phase_fail,
    phase_heartbeat,
)
from warmup.services.tick import tick

S = PhaseStatus

pytestmark = [requires_postgres, pytest.mark.django_db]

REFUSED = [pair for pair in product(S.values, S.values) if pair not in TRANSITIONS]


def _statements(captured) -> list[str]:
    """The statements a service ran, without the savepoints of its transaction."""
    return [
        q["sql"] for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RE"))
    ]


def test_each_statement_makes_the_move_of_its_name_in_the_table():
    assert (bot_statements.CLAIM_FROM, bot_statements.CLAIM_TO) == (
        S.CONTENT_ASSIGNED,
        S.IN_PROGRESS,
    )
    assert (bot_statements.COMPLETE_FROM, bot_statements.COMPLETE_TO) == (
        S.IN_PROGRESS,
        S.COMPLETED,
    )
    assert (bot_statements.UNLOCK_FROM, bot_statements.UNLOCK_TO) == (S.PENDING, S.AVAILABLE)
    with pytest.raises(ValueError, match="0 moves named 'teleport'"):
        move("teleport")


def test_a_claim_and_a_completion_are_one_statement_each(account, bot):
    WarmupPhaseFactory(account=account, content_assigned=True)
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
    WarmupPhaseFactory(account=account, content_assigned=True)
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
    phase = WarmupPhaseFactory(account=account, bot=bot, status=from_status)
    type(phase).objects.filter(pk=phase.pk).update(
        next_attempt_at=timezone.now() - timedelta(hours=1)
    )
    last = PhaseAttempt.objects.filter(phase=phase).order_by("-number").first()
    token = phase.lease_token or (last.lease_token if last else uuid.uuid4())
    seen = [str(phase.status)]
    with transaction.atomic():
        bot_statements.complete(
            phase_id=phase.pk,
            bot_id=bot.pk,
            token=token,
            now=timezone.now(),
            method=CompletionMethod.BOT,
            result={},
        )
        seen.append(reload(phase).status)
        bot_statements.claim(bot_id=bot.pk, token=uuid.uuid4(), now=timezone.now())
        seen.append(reload(phase).status)
    moves = {
        (before, after) for before, after in zip(seen, seen[1:], strict=False) if before != after
    }
    assert (from_status, to_status) not in moves
    assert moves <= {(S.IN_PROGRESS, S.COMPLETED), (S.CONTENT_ASSIGNED, S.IN_PROGRESS)}
    if from_status not in (S.IN_PROGRESS, S.CONTENT_ASSIGNED):
        assert seen == [from_status] * 3


def test_a_report_on_a_lease_that_ran_out_is_left_to_the_full_path(account, bot, clock):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    clock.shift(timedelta(days=8))
    with transaction.atomic():
        moved = bot_statements.complete(
            phase_id=phase.pk,
            bot_id=bot.pk,
            token=phase.lease_token,
            now=timezone.now(),
            method=CompletionMethod.BOT,
            result={},
        )
    assert moved is None
    assert reload(phase).status == S.IN_PROGRESS


# --- Both engines refuse what the table refuses ------------------------------------------


def _claim_through_the_orm(bot):
    return phase_claim(bot=bot)


def _complete_through_the_orm(phase, bot, token):
    try:
        return phase_complete(phase_id=phase.pk, bot=bot, lease_token=token)
    except (LeaseLost, NotFound):  # NotFound: a phase this bot never held
        return None


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_the_orm_path_refuses_every_move_the_table_refuses_as_the_statements_do(
    from_status, to_status, account, bot, monkeypatch
):
    """The same as above through the services with the one-statement path switched off: the
    declarations both engines are built from allow no other move."""
    monkeypatch.setattr(bot_statements, "available", lambda: False)
    phase = WarmupPhaseFactory(account=account, bot=bot, status=from_status)
    type(phase).objects.filter(pk=phase.pk).update(
        next_attempt_at=timezone.now() - timedelta(hours=1)
    )
    last = PhaseAttempt.objects.filter(phase=phase).order_by("-number").first()
    token = phase.lease_token or (last.lease_token if last else uuid.uuid4())
    seen = [str(phase.status)]
    _complete_through_the_orm(phase, bot, token)
    seen.append(reload(phase).status)
    _claim_through_the_orm(bot)
    seen.append(reload(phase).status)
    moves = {
        (before, after) for before, after in zip(seen, seen[1:], strict=False) if before != after
    }
    assert (from_status, to_status) not in moves
    assert moves <= {(S.IN_PROGRESS, S.COMPLETED), (S.CONTENT_ASSIGNED, S.IN_PROGRESS)}
    if from_status not in (S.IN_PROGRESS, S.CONTENT_ASSIGNED):
        assert seen == [from_status] * 3


# --- Both engines write the same rows ------------------------------------------------------


class _RolledBack(Exception):
    """Ends a run's savepoint, so the next run starts from the same fleet."""


def _rows(model, *order) -> list[dict]:
    return [dict(row) for row in model.objects.order_by(*order).values()]


def _written() -> dict:
    """Every column of the phases, attempts, review log rows and accounts; the ids of the rows
    a run adds left out, lease tokens named by the attempt that holds them (phase, number)."""
    attempts = _rows(PhaseAttempt, "phase_id", "number")
    tokens = {row["lease_token"]: (row["phase_id"], row["number"]) for row in attempts}
    for row in attempts:
        del row["id"]
        row["lease_token"] = tokens[row["lease_token"]]
    phases = _rows(WarmupPhase, "id")
    for row in phases:
        row["lease_token"] = tokens.get(row["lease_token"], row["lease_token"])
    logs = _rows(ReviewLog, "id")
    for row in logs:
        del row["id"]
    return {
        "phases": phases,
        "attempts": attempts,
        "review log": logs,
        "accounts": _rows(Account, "id"),
    }


def _answer(result):
    """What a bot is answered: every column of the phase returned (its lease token named by its
    attempt), the failure's decision, or the refusal's class, code and wording."""
    if isinstance(result, DomainError):
        return (type(result).__name__, result.code, str(result))
    if isinstance(result, FailureOutcome):
        return (
            result.decision,
            result.retry_count,
            result.next_attempt_at,
            result.review_required_since,
            _answer(result.phase),
        )
    if result is None:
        return None
    values = {f.attname: getattr(result, f.attname) for f in WarmupPhase._meta.concrete_fields}
    values["status"] = str(values["status"])
    if values["lease_token"]:  # named by its attempt, as in the rows
        attempt = PhaseAttempt.objects.get(lease_token=values["lease_token"])
        values["lease_token"] = (attempt.phase_id, attempt.number)
    return values


def _work(bots, clock) -> list:
    """Claims (narrowed by platform, phase type, plan), heartbeats, completions (unlocking the
    next phase at once, after a delay, after a delay past its bound), failures (a retry, an
    escalation), refusals (a stale lease, an expired one, a replay): what each was answered."""
    a, b = bots
    answers = []

    def do(call, *args, **kwargs):
        try:
            result = call(*args, **kwargs)
        except DomainError as refusal:
            result = refusal
        answers.append(_answer(result))
        return result

    def report(call, phase, bot, **kwargs):
        return do(call, phase_id=phase.pk, bot=bot, lease_token=phase.lease_token, **kwargs)

    quick = do(phase_claim, bot=a, platforms=["x"])
    bio = do(phase_claim, bot=b, platforms=["instagram", "tiktok"], phase_types=["profile_bio"])
    other = do(phase_claim, bot=b, plans=["default"])
    do(phase_claim, bot=a, platforms=["youtube"])  # only a paused account there
    clock.shift(timedelta(minutes=1))
    report(phase_heartbeat, quick, a)
    clock.shift(timedelta(minutes=1))
    report(phase_complete, quick, a, result={"likes": 3})  # the next step has no delay
    report(phase_fail, bio, b, category="network_error", reason="proxy timeout", details={"n": 1})
    report(phase_fail, other, b, category="challenge_required", reason="SMS code")
    report(phase_complete, bio, b)  # its lease ended with the failure
    report(phase_heartbeat, other, b)
    report(phase_complete, quick, a, result={"likes": 3})  # a replay
    clock.shift(timedelta(minutes=30))
    first = do(phase_claim, bot=a)
    retried = do(phase_claim, bot=b)
    report(phase_complete, retried, b)  # the next step after its delay
    clock.shift(timedelta(days=8))  # past the longest lease
    report(phase_heartbeat, first, a)
    report(phase_complete, first, a)
    following = WarmupPhase.objects.select_for_update().get(account=quick.account, order=2)
    assign_contents([following], contents={following.pk: None}, now=timezone.now())
    second = do(phase_claim, bot=a, platforms=["x"], plans=["quick"])
    report(phase_complete, second, a)  # the next step's delay is past its bound
    return answers


def _run(one_statement: bool, *, bots, clock, start, monkeypatch):
    """The work through one engine from `start`, rolled back after: its answers and rows."""
    clock.move_to(start)
    random.seed(7)  # a jittered backoff draws the same in both runs
    with monkeypatch.context() as patch:
        patch.setattr(bot_statements, "available", lambda: one_statement)
        try:
            with transaction.atomic():
                answers = _work(bots, clock)
                written = _written()
                raise _RolledBack
        except _RolledBack:
            pass
    return answers, written


@pytest.fixture
def quick_plan(db):
    """Three steps that take no content: a lease stored past its bound, a step with no delay,
    then one whose delay is past its bound (as a row written behind the forms' back)."""
    plan = WarmupPlan.objects.create(slug="quick", name="Quick")
    for order, phase_type in enumerate(["profile_bio", "avatar", "first_post"], start=1):
        PhaseTemplate.objects.create(
            plan=plan, order=order, phase_type=phase_type, name=phase_type, requires_content=False
        )
    plan.templates.filter(order=1).update(lease_duration=MAX_LEASE * 4)
    plan.templates.filter(order=3).update(delay=MAX_STEP_DELAY * 2)
    return plan


def test_the_one_statement_path_and_the_orm_path_write_the_same_rows(
    quick_plan, content_pool, bot, other_bot, clock, monkeypatch
):
    # given a fleet on two plans and five platforms, one account paused, first phases ready
    for platform in ("instagram", "tiktok"):
        AccountFactory(platform=platform)
    for platform in ("x", "facebook"):
        AccountFactory(platform=platform, plan=quick_plan)
    paused = AccountFactory(platform="youtube")
    account_pause(account=paused, actor=SYSTEM, note="on hold")
    tick()
    start = timezone.now()

    # when the same work runs through each engine
    fast = _run(True, bots=(bot, other_bot), clock=clock, start=start, monkeypatch=monkeypatch)
    orm = _run(False, bots=(bot, other_bot), clock=clock, start=start, monkeypatch=monkeypatch)

    # then the bots were answered alike and every column written is the same
    assert fast[0] == orm[0]
    for table in fast[1]:
        assert fast[1][table] == orm[1][table], table
    # and the work did what it says: a lease and a delay held to their bounds, an unlock at
    # once, a retry and an escalation
    answers, rows = fast
    assert answers[0]["lease_expires_at"] == start + MAX_LEASE
    x = Account.objects.get(platform="x")
    phases = {(p["account_id"], p["order"]): p for p in rows["phases"]}
    assert phases[(x.pk, 2)]["status"] == S.COMPLETED
    done = phases[(x.pk, 2)]["completed_at"]
    assert phases[(x.pk, 3)]["available_at"] == done + MAX_STEP_DELAY
    assert answers[3] is None  # nothing for a paused account
    decisions = [answer[0] for answer in answers[6:8]]
    assert decisions == [FailureDecision.RETRY_SCHEDULED, FailureDecision.REVIEW_REQUIRED]
    assert [answer[1] for answer in answers[8:10]] == [LeaseLost.code] * 2
    escalated = [row for row in rows["review log"] if row["action"] == ReviewAction.ESCALATED]
    assert [row["phase_id"] for row in escalated] == [answers[2]["id"]]
