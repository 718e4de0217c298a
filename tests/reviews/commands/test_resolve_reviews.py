"""manage.py resolve_reviews: bulk resolution from the command line, with a dry run and undo."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, OperationalError, connection, connections, transaction

from config import database, metrics
from reviews.management.commands.resolve_reviews import BATCH_FAILED, BATCH_FAILED_RETRYABLE
from reviews.models import ReviewLog
from tests.clients import view_only_user
from tests.conftest import requires_postgres
from tests.factories import BotFactory, UserFactory, new_item_in_review
from warmup.domain.actors import Actor
from warmup.domain.choices import ReviewAction
from warmup.models import Account, PhaseStatus, WarmupPhase
from warmup.selectors.analytics import review_stats
from warmup.services import resolutions
from warmup.services.bot_work import phase_claim
from warmup.services.resolutions import review_resume
from warmup.services.review import review_assign, review_comment, review_hold
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
WHY = ["--reason", "replaced_proxy", "--note", "proxy pool back"]
ALL = [*WHY, "--all"]


@pytest.fixture
def operator(db):
    return UserFactory(username="oncall", reviewer=True)


def resolve(*args, expect=0):
    """Run the command; returns (stdout, batch id). `expect` is the exit code it must give."""
    out, err = StringIO(), StringIO()
    code = 0
    try:
        call_command("resolve_reviews", *args, stdout=out, stderr=err)
    except CommandError as exc:
        code = exc.returncode
        err.write(str(exc))
    assert code == expect, (out.getvalue(), err.getvalue())
    printed = out.getvalue()
    match = re.match(r"Batch ([0-9a-f-]{36})", printed)
    return printed + err.getvalue(), uuid.UUID(match.group(1)) if match else None


def exit_code(monkeypatch, *argv) -> int:
    """The exit code of the command run as from a shell (argparse errors exit 2 there)."""
    # Run from a shell, a command closes the database connections when it ends; here that
    # would close the test's own connection, inside its transaction.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    try:
        ManagementUtility(["manage.py", "resolve_reviews", *argv]).execute()
    except SystemExit as exc:
        return exc.code
    return 0


def status(phase):
    return WarmupPhase.objects.get(pk=phase.pk).status


def resolution_rows(phase):
    return ReviewLog.objects.filter(phase=phase, resolution_method__gt="").count()


# --- Selection and actions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "action, to_status",
    [
        ("resume", PhaseStatus.AVAILABLE),
        ("retry", PhaseStatus.CONTENT_ASSIGNED),
        ("complete", PhaseStatus.COMPLETED),
        ("skip", PhaseStatus.COMPLETED),
    ],
)
def test_each_action_resolves_the_selection_and_logs_each_with_the_batch(
    operator, bot, content_pool, action, to_status
):
    items = [new_item_in_review(bot, "proxy_error") for _ in range(3)]

    printed, batch = resolve("--user", "oncall", "--action", action, *ALL)

    assert [status(i) for i in items] == [to_status] * 3
    rows = ReviewLog.objects.filter(batch=batch)
    assert rows.count() == 3
    assert {(r.actor_user, r.reason_code, r.note) for r in rows} == {
        (operator, "replaced_proxy", "proxy pool back")
    }
    assert "3 items changed, 0 not changed" in printed


def test_complete_in_bulk_unlocks_each_accounts_next_phase(operator, bot, content_pool):
    items = [new_item_in_review(bot) for _ in range(2)]

    resolve("--user", "oncall", "--action", "complete", *ALL)

    for item in items:
        nxt = WarmupPhase.objects.get(account=item.account, order=2)
        assert nxt.available_at is not None  # scheduled after its delay, as one by one


@pytest.mark.parametrize(
    "selection, chosen",
    [
        (["--category", "login_failed"], {"login"}),
        (["--category", "login_failed", "--category", "proxy_error"], {"login", "proxy"}),
        (["--platform", "PLATFORM_OF_LOGIN"], {"login"}),
        (["--waiting", "2h"], {"old"}),
        (["--waiting", "2h", "--category", "held"], set()),
        (["--account-status", "active", "--category", "proxy_error"], {"proxy"}),
        (["--escalation-level", "0"], {"login", "proxy"}),
        (["--assignee", "none"], {"login", "proxy", "old"}),
        (["--assignee", "oncall"], set()),
        (["--account", "ACCOUNT_OF_PROXY"], {"proxy"}),
        (["--bot", "BOT_OF_OLD"], {"old"}),
        (["--ids", "IDS_OF_LOGIN_AND_OLD"], {"login", "old"}),
        (["--phase-type", "profile_bio", "--limit", "1"], {"old"}),
    ],
)
def test_each_selection_flag_narrows_what_is_resolved(
    operator, content_pool, clock, selection, chosen
):
    old_bot, bot = BotFactory(), BotFactory()
    made = {"old": new_item_in_review(old_bot, "challenge_required")}
    clock.shift(timedelta(hours=3))
    tick()  # level 1 for the old one: over 1 h
    made["login"] = new_item_in_review(bot, "login_failed")
    made["proxy"] = new_item_in_review(bot, "proxy_error")
    words = {
        "PLATFORM_OF_LOGIN": made["login"].account.platform,
        "ACCOUNT_OF_PROXY": str(made["proxy"].account),
        "BOT_OF_OLD": old_bot.name,
        "IDS_OF_LOGIN_AND_OLD": f"{made['login'].pk},{made['old'].pk}",
    }
    assert len({item.account.platform for item in made.values()}) == 3  # the factory cycles
    args = [words.get(arg, arg) for arg in selection]

    resolve("--user", "oncall", "--action", "skip", *WHY, *args)

    done = {name for name, item in made.items() if status(item) == PhaseStatus.COMPLETED}
    assert done == chosen


def test_ids_can_come_from_stdin(operator, bot, content_pool, monkeypatch):
    first, second, third = (new_item_in_review(bot) for _ in range(3))
    monkeypatch.setattr("sys.stdin", StringIO(f"{first.pk}\n{third.pk}\n"))

    resolve("--user", "oncall", "--action", "resume", *WHY, "--ids", "-")

    assert [status(p) for p in (first, second, third)] == [
        PhaseStatus.AVAILABLE,
        PhaseStatus.REVIEW_REQUIRED,
        PhaseStatus.AVAILABLE,
    ]


def test_a_dry_run_shows_the_items_and_changes_nothing(operator, bot, content_pool):
    items = [new_item_in_review(bot, "proxy_error") for _ in range(2)]
    before = ReviewLog.objects.count()

    printed, _ = resolve("--user", "oncall", "--action", "retry", *ALL, "--dry-run")

    assert str(items[0].account) in printed and str(items[1].account) in printed
    assert "By category: proxy_error 2" in printed
    assert "Dry run: would retry 2 items; nothing was changed." in printed
    assert [status(i) for i in items] == [PhaseStatus.REVIEW_REQUIRED] * 2
    assert ReviewLog.objects.count() == before


def test_a_run_must_say_which_items_or_all(operator, bot, content_pool, monkeypatch):
    item = new_item_in_review(bot)

    code = exit_code(monkeypatch, "--user", "oncall", "--action", "skip", *WHY)

    assert code == 2
    assert status(item) == PhaseStatus.REVIEW_REQUIRED


def test_named_ids_none_in_review_are_listed_and_exit_1(operator, bot, content_pool):
    item = new_item_in_review(bot)
    resolve("--user", "oncall", "--action", "skip", *WHY, "--ids", str(item.pk))

    printed, _ = resolve(
        "--user", "oncall", "--action", "skip", *WHY, "--ids", str(item.pk), expect=1
    )

    assert "Nothing selected" in printed and f"not changed, not in review: {item.pk}" in printed


def test_undo_of_an_unknown_batch_is_a_usage_error(operator, monkeypatch):
    code = exit_code(monkeypatch, "--user", "oncall", "--undo", str(uuid.uuid4()), "--note", "x")

    assert code == 2


def test_nothing_selected_is_said_and_exits_0(operator):
    printed, _ = resolve("--user", "oncall", "--action", "resume", *ALL)

    assert "Nothing selected; nothing changed." in printed


# --- Who may act, and bad input -------------------------------------------------------------


@pytest.mark.parametrize(
    "who, message",
    [
        ("ghost", "No user named 'ghost'"),
        ("reader", "may not act on the review queue"),
        ("retired", "is deactivated"),
    ],
)
def test_the_user_must_exist_be_active_and_may_resolve(bot, content_pool, who, message):
    reader = view_only_user()
    reader.username = "reader"
    reader.save()
    UserFactory(username="retired", reviewer=True, is_active=False)
    item = new_item_in_review(bot)

    printed, _ = resolve("--user", who, "--action", "resume", *ALL, expect=2)

    assert message in printed
    assert status(item) == PhaseStatus.REVIEW_REQUIRED


@pytest.mark.parametrize(
    "argv",
    [
        ["--action", "resume", "--reason", "bogus", "--note", "x"],
        ["--action", "resume", "--reason", "other", "--note", "  "],
        ["--action", "resume", "--note", "x"],
        ["--action", "explode", "--reason", "other", "--note", "x"],
        ["--action", "resume", "--reason", "other", "--note", "x", "--waiting", "3x"],
        ["--action", "resume", "--reason", "other", "--note", "x", "--category", "gremlins"],
        ["--action", "resume", "--reason", "other", "--note", "x", "--ids", "1,abc"],
        ["--action", "resume", "--reason", "other", "--note", "x", "--account", "myspace:bob"],
        ["--action", "resume", "--reason", "other", "--note", "x", "--batch-size", "0"],
        ["--undo", "not-a-uuid", "--note", "x"],
        ["--undo", str(uuid.uuid4()), "--action", "resume", "--note", "x"],
    ],
)
def test_usage_errors_exit_2_and_change_nothing(
    operator, bot, content_pool, argv, capsys, monkeypatch
):
    item = new_item_in_review(bot)

    code = exit_code(monkeypatch, "--user", "oncall", *argv)

    assert code == 2
    assert status(item) == PhaseStatus.REVIEW_REQUIRED
    assert not ReviewLog.objects.filter(batch__isnull=False).exists()


# --- Items that changed meanwhile, interruptions ----------------------------------------------


def test_an_item_resolved_between_selection_and_update_is_reported_not_overwritten(
    operator, bot, content_pool, monkeypatch
):
    first, second = new_item_in_review(bot), new_item_in_review(bot)
    real_batch = resolutions.reviews_resolve

    def someone_else_first(**kwargs):
        # Another reviewer resumes one item first (one item: the same path, a batch of one).
        real_batch(
            phase_ids=[second.pk],
            method="resume",
            reason_code="other",
            note="by hand",
            actor=Actor.for_user(operator),
        )
        return real_batch(**kwargs)

    monkeypatch.setattr(resolutions, "reviews_resolve", someone_else_first)

    printed, batch = resolve("--user", "oncall", "--action", "skip", *ALL, expect=1)

    assert status(first) == PhaseStatus.COMPLETED
    assert status(second) == PhaseStatus.AVAILABLE  # the other reviewer's resume stands
    assert f"not changed, no longer in review: it is available: {second.pk}" in printed
    assert ReviewLog.objects.filter(batch=batch).count() == 1


def test_a_rerun_after_an_interruption_finishes_with_no_duplicate_rows(
    operator, bot, content_pool, monkeypatch
):
    items = [new_item_in_review(bot) for _ in range(5)]
    real_batch = resolutions.reviews_resolve
    calls = []

    def killed_in_the_second_batch(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_batch(**kwargs)

    monkeypatch.setattr(resolutions, "reviews_resolve", killed_in_the_second_batch)
    with pytest.raises(SystemExit) as stopped:
        call_command(
            "resolve_reviews",
            "--user",
            "oncall",
            "--action",
            "resume",
            *ALL,
            "--batch-size",
            "2",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert stopped.value.code == 130
    assert [status(i) for i in items].count(PhaseStatus.AVAILABLE) == 2  # the first batch

    monkeypatch.setattr(resolutions, "reviews_resolve", real_batch)
    printed, _ = resolve("--user", "oncall", "--action", "resume", *ALL, "--batch-size", "2")

    assert "3 items changed, 0 not changed" in printed
    assert [status(i) for i in items] == [PhaseStatus.AVAILABLE] * 5
    assert [resolution_rows(i) for i in items] == [1] * 5


def command_env() -> dict:
    """The environment for a `manage.py` process of its own, on the test database."""
    db = connection.settings_dict
    url = f"postgresql://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}@"
    url += f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DEBUG": "1", "PYTHONUNBUFFERED": "1"}


def backends_waiting_for_a_lock() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return [pid for (pid,) in cursor.fetchall()]


def backend_gone(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 0


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_process_killed_in_the_middle_of_a_batch_leaves_whole_batches_and_a_rerun_finishes(
    content_pool, bot, default_plan
):
    """SIGKILL, not Ctrl-C: no handler runs. The run is stopped inside a batch (its UPDATE done,
    its log rows waiting on a table lock) and killed there."""
    UserFactory(username="oncall", reviewer=True)
    items = [new_item_in_review(bot) for _ in range(12)]
    command = [sys.executable, "manage.py", "resolve_reviews", "--user", "oncall"]
    command += ["--action", "resume", *ALL, "--batch-size", "2"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=command_env(), stdout=subprocess.PIPE, text=True
    )
    blocker = connections.create_connection("default")
    try:
        assert process.stdout.readline().startswith("Batch ")
        assert "done" in process.stdout.readline()  # the first batch committed
        blocker.set_autocommit(False)
        with blocker.cursor() as cursor:
            cursor.execute("LOCK TABLE reviews_reviewlog IN SHARE MODE")
        waiting = []
        for _ in range(200):  # until the run's next batch waits to write its log rows
            waiting = backends_waiting_for_a_lock()
            if waiting:
                break
            time.sleep(0.05)
        assert waiting, "the run finished before it could be stopped in a batch"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        blocker.rollback()
        blocker.close()
        process.kill()
    for _ in range(200):  # the server ends the dead client's session and rolls it back
        if all(backend_gone(pid) for pid in waiting):
            break
        time.sleep(0.05)

    resumed = [i for i in items if status(i) == PhaseStatus.AVAILABLE]
    assert 2 <= len(resumed) < len(items) and len(resumed) % 2 == 0  # whole batches only
    assert [resolution_rows(i) for i in resumed] == [1] * len(resumed)
    assert all(resolution_rows(i) == 0 for i in items if i not in resumed)

    printed, _ = resolve("--user", "oncall", "--action", "resume", *ALL, "--batch-size", "2")

    assert f"{len(items) - len(resumed)} items changed, 0 not changed" in printed
    assert [status(i) for i in items] == [PhaseStatus.AVAILABLE] * len(items)
    assert [resolution_rows(i) for i in items] == [1] * len(items)


def test_some_items_not_changed_exit_1_and_are_listed(operator, bot, content_pool):
    fine = new_item_in_review(bot)
    suspended = new_item_in_review(bot, "account_suspended")

    printed, _ = resolve(
        "--user",
        "oncall",
        "--action",
        "resume",
        *WHY,
        "--ids",
        f"{fine.pk},{suspended.pk},999999",
        expect=1,
    )

    assert status(fine) == PhaseStatus.AVAILABLE
    assert "the account is suspended: reactivate it first: " + str(suspended.pk) in printed
    assert "not changed, not in review: 999999" in printed


@pytest.mark.parametrize(
    "error, retryable",
    [
        (OperationalError("canceling statement due to lock timeout"), True),
        (IntegrityError("duplicate key value violates unique constraint"), False),
    ],
    ids=["busy", "broken"],
)
def test_a_failed_batch_says_whether_running_again_will_help(
    operator, bot, content_pool, monkeypatch, error, retryable
):
    # given: two items resolved one per batch, the first batch meeting a database error
    first, second = new_item_in_review(bot), new_item_in_review(bot)
    reviews_resolve = resolutions.reviews_resolve

    def first_batch_fails(*, phase_ids, **kwargs):
        if first.pk in phase_ids:
            raise error
        return reviews_resolve(phase_ids=phase_ids, **kwargs)

    monkeypatch.setattr(resolutions, "reviews_resolve", first_batch_fails)

    printed, _ = resolve(
        "--user", "oncall", "--action", "resume", *ALL, "--batch-size", "1", expect=1
    )

    # then: the failed batch changed nothing and is reported retryable only for a busy database
    # (the 503s' definition, with their Retry-After); the next batch went on
    why = str(error)
    expected = (
        BATCH_FAILED_RETRYABLE.format(why=why, seconds=database.RETRY_AFTER_SECONDS)
        if retryable
        else BATCH_FAILED.format(why=why)
    )
    assert f"not changed, {expected}: {first.pk}" in printed
    assert ("retryable: run the same command again" in printed) is retryable
    assert status(first) == PhaseStatus.REVIEW_REQUIRED
    assert status(second) == PhaseStatus.AVAILABLE


# --- Undo --------------------------------------------------------------------------------------


def test_undo_puts_a_batch_back_in_review_with_its_earlier_context(
    operator, bot, content_pool, clock
):
    items = [new_item_in_review(bot, "proxy_error") for _ in range(2)]
    since = {i.pk: i.review_required_since for i in items}
    clock.shift(timedelta(minutes=90))
    tick()  # level 1
    _, batch = resolve("--user", "oncall", "--action", "resume", *ALL)
    clock.shift(timedelta(minutes=5))

    printed, undo = resolve("--user", "oncall", "--undo", str(batch), "--note", "wrong call")

    for item in items:
        now = WarmupPhase.objects.get(pk=item.pk)
        assert now.status == PhaseStatus.REVIEW_REQUIRED
        assert now.review_required_since == since[item.pk]  # the clock it had
        assert now.escalation_level == 1
        assert now.last_failure_category == "proxy_error"
    rows = ReviewLog.objects.filter(batch=undo)
    assert {r.action for r in rows} == {ReviewAction.RESOLUTION_UNDONE}
    assert {r.data["undoes_batch"] for r in rows} == {str(batch)}
    assert "2 items changed, 0 not changed" in printed


def test_undo_of_a_partly_reclaimed_batch_leaves_the_claimed_ones(operator, bot, content_pool):
    items = [new_item_in_review(bot) for _ in range(3)]
    _, batch = resolve("--user", "oncall", "--action", "retry", *ALL)
    claimed = phase_claim(bot=bot)  # a bot took one of them again
    assert claimed.pk in {i.pk for i in items}

    printed, _ = resolve("--user", "oncall", "--undo", str(batch), "--note", "undo", expect=1)

    back = [i for i in items if status(i) == PhaseStatus.REVIEW_REQUIRED]
    assert len(back) == 2
    assert status(claimed) == PhaseStatus.IN_PROGRESS
    assert f"not changed, a bot has claimed it since: {claimed.pk}" in printed


def test_undo_leaves_what_a_reviewer_has_acted_on_since(operator, bot, content_pool):
    held_again, commented = new_item_in_review(bot), new_item_in_review(bot)
    _, batch = resolve("--user", "oncall", "--action", "resume", *ALL)
    actor = Actor.for_user(operator)
    review_hold(phase_id=held_again.pk, note="not fixed after all", actor=actor)
    review_resume(phase_id=held_again.pk, reason_code="other", note="now it is", actor=actor)
    review_comment(phase_id=commented.pk, note="watching this one", actor=actor)

    printed, _ = resolve("--user", "oncall", "--undo", str(batch), "--note", "undo", expect=1)

    assert status(held_again) == PhaseStatus.AVAILABLE  # the reviewer's resume stands
    assert status(commented) == PhaseStatus.REVIEW_REQUIRED  # a note is no move
    assert f"someone has acted on it since (see its review history): {held_again.pk}" in printed


def next_phase(item):
    return WarmupPhase.objects.get(account_id=item.account_id, order=item.order + 1)


@pytest.mark.parametrize("action", ["complete", "skip"])
def test_undo_of_a_completion_reopens_it_and_locks_the_next_phase_again(
    operator, bot, content_pool, clock, action
):
    item = new_item_in_review(bot)
    _, batch = resolve("--user", "oncall", "--action", action, *ALL)
    clock.shift(timedelta(hours=7))
    tick()  # the next phase unlocks after its delay and gets its content
    assert next_phase(item).status == PhaseStatus.CONTENT_ASSIGNED

    printed, undo = resolve("--user", "oncall", "--undo", str(batch), "--note", "wrong call")

    reopened = WarmupPhase.objects.get(pk=item.pk)
    assert reopened.status == PhaseStatus.REVIEW_REQUIRED
    assert (reopened.completed_at, reopened.completion_method) == (None, "")
    assert reopened.review_required_since == item.review_required_since
    following = next_phase(item)
    assert following.status == PhaseStatus.PENDING
    assert (following.available_at, following.content_id) == (None, None)
    tick()  # and it stays locked: its phase before is not completed
    assert next_phase(item).status == PhaseStatus.PENDING
    assert ReviewLog.objects.get(batch=undo).from_status == PhaseStatus.COMPLETED
    assert "1 item changed, 0 not changed" in printed


def test_undo_of_the_last_phase_of_a_plan_reopens_it(operator, bot, content_pool):
    item = new_item_in_review(bot)
    WarmupPhase.objects.filter(account_id=item.account_id, order__gt=item.order).delete()
    _, batch = resolve("--user", "oncall", "--action", "complete", *ALL)

    resolve("--user", "oncall", "--undo", str(batch), "--note", "not done after all")

    assert status(item) == PhaseStatus.REVIEW_REQUIRED


def test_undo_leaves_a_completion_whose_plan_went_on(operator, bot, content_pool, clock):
    went_on, waiting = new_item_in_review(bot), new_item_in_review(bot)
    _, batch = resolve("--user", "oncall", "--action", "complete", *ALL)
    clock.shift(timedelta(hours=7))
    tick()
    claimed = phase_claim(bot=bot, phase_types=["avatar"])
    assert claimed.account_id in (went_on.account_id, waiting.account_id)
    went_on, waiting = sorted((went_on, waiting), key=lambda i: i.account_id != claimed.account_id)

    printed, _ = resolve("--user", "oncall", "--undo", str(batch), "--note", "undo", expect=1)

    assert status(went_on) == PhaseStatus.COMPLETED
    assert status(claimed) == PhaseStatus.IN_PROGRESS  # the bot's work stands
    assert status(waiting) == PhaseStatus.REVIEW_REQUIRED
    assert (
        "not changed, its plan went on: a bot has claimed the account's next phase since: "
        f"{went_on.pk}" in printed
    )


def test_undo_gives_back_the_assignee_and_the_content_a_resume_cleared(operator, bot, content_pool):
    item = new_item_in_review(bot)
    review_assign(phase_id=item.pk, assignee=operator, actor=Actor.for_user(operator))
    _, batch = resolve("--user", "oncall", "--action", "resume", *ALL)
    tick()  # the resumed phase gets content again, perhaps other content
    assert status(item) == PhaseStatus.CONTENT_ASSIGNED

    resolve("--user", "oncall", "--undo", str(batch), "--note", "undo")

    back = WarmupPhase.objects.get(pk=item.pk)
    assert back.review_assignee == operator
    assert back.content_id == item.content_id  # what it failed with, ready for a retry
    assert back.content_id is not None


def test_undo_does_not_give_an_item_back_to_someone_who_may_no_longer_resolve(
    operator, bot, content_pool
):
    left = UserFactory(username="left", reviewer=True)
    item = new_item_in_review(bot)
    review_assign(phase_id=item.pk, assignee=left, actor=Actor.for_user(operator))
    _, batch = resolve("--user", "oncall", "--action", "retry", *ALL)
    left.is_active = False
    left.save()

    resolve("--user", "oncall", "--undo", str(batch), "--note", "undo")

    assert status(item) == PhaseStatus.REVIEW_REQUIRED
    assert WarmupPhase.objects.get(pk=item.pk).review_assignee is None


# --- Locks -------------------------------------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_row_someone_holds_is_skipped_not_waited_for(content_pool, bot, default_plan):
    UserFactory(username="oncall", reviewer=True)
    held, free = new_item_in_review(bot), new_item_in_review(bot)
    locked, release = threading.Event(), threading.Event()

    def a_reviewer_holds_the_row():
        with transaction.atomic():
            WarmupPhase.objects.select_for_update().get(pk=held.pk)
            locked.set()
            release.wait(30)
        connection.close()

    holder = threading.Thread(target=a_reviewer_holds_the_row)
    holder.start()
    assert locked.wait(10)
    try:
        printed, _ = resolve("--user", "oncall", "--action", "resume", *ALL, expect=1)
    finally:
        release.set()
        holder.join(10)

    assert status(free) == PhaseStatus.AVAILABLE
    assert status(held) == PhaseStatus.REVIEW_REQUIRED
    assert f"a bot or a reviewer holds it right now; run again to retry it: {held.pk}" in printed
    assert Account.objects.count() == 2


def test_a_bulk_run_feeds_the_time_in_review_histogram(
    operator, bot, content_pool, django_capture_on_commit_callbacks
):
    def resolved(method):
        name = "warmup_review_time_in_review_seconds_count"
        return metrics.REGISTRY.get_sample_value(name, {"method": method}) or 0

    for _ in range(3):
        new_item_in_review(bot)
    before = resolved("skip")

    with django_capture_on_commit_callbacks(execute=True):
        resolve("--user", "oncall", "--action", "skip", *ALL)

    assert resolved("skip") - before == 3


def test_an_undone_resolution_counts_as_one_that_did_not_work(operator, bot, content_pool):
    new_item_in_review(bot)
    _, batch = resolve("--user", "oncall", "--action", "resume", *ALL)
    resolve("--user", "oncall", "--undo", str(batch), "--note", "undo")

    stats = review_stats()

    assert stats["resolutions"]["resume"]["failed"] == 1
    assert stats["queue"]["total"] == 1


def test_undo_is_not_thrown_by_what_happened_to_other_items_since(operator, bot, content_pool):
    undone, elsewhere = new_item_in_review(bot), new_item_in_review(bot)
    _, batch = resolve("--user", "oncall", "--action", "resume", "--ids", str(undone.pk), *WHY)
    review_comment(phase_id=elsewhere.pk, note="unrelated", actor=Actor.for_user(operator))
    review_resume(
        phase_id=elsewhere.pk, reason_code="other", note="unrelated", actor=Actor.for_user(operator)
    )

    resolve("--user", "oncall", "--undo", str(batch), "--note", "undo")

    assert status(undone) == PhaseStatus.REVIEW_REQUIRED
    assert status(elsewhere) == PhaseStatus.AVAILABLE
