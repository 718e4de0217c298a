"""A short fault and load run, on PostgreSQL, in `make test` (well under two minutes): 8 bots
over HTTP against gunicorn, a reviewer, and two scheduler loops (`warmup_tick --loop`, as
separate processes), while, one every FAULT_EVERY seconds in turn: a gunicorn worker is
killed (SIGKILL), the server's and the schedulers' database connections are terminated, a
scheduler loop is killed and started again, a bulk `resolve_reviews` run is killed mid-run,
and gunicorn's master is killed with its workers and the server started again.

The bots do what docs/bots.md asks of a bot: a 503, a dropped connection or a server that is not
there is waited out and the same request sent again, a report with the same lease token. What
must hold, whatever was killed: no answer but 200, 204, the domain's refusals and 503 (no 500);
every claim a bot was told of is an attempt, no phase was held by two bots at once, every
report a bot was told was accepted is in the data as it was told, a report whose answer was
lost is there at most once, and `check_warmup_integrity` is clean.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import requests
from django.db import connection

from tests.conftest import requires_postgres
from tests.factories import UserFactory
from tests.integrity import assert_integrity
from tests.reliability.conftest import ROOT, SERVER_APP_NAME, server_env
from tests.reliability.test_load import (
    Ledger,
    draw,
    enrol,
    reviewer_step,
    run_thread,
    run_until,
)
from warmup.domain.actors import Actor
from warmup.models import AttemptOutcome, CompletionMethod, PhaseAttempt, PhaseStatus, WarmupPhase

pytestmark = [pytest.mark.slow, requires_postgres, pytest.mark.django_db(transaction=True)]

S = PhaseStatus
BOTS = 8
ACCOUNTS = 150
CYCLES = 500  # claims; the run also lasts until every fault was played at least once
FAULT_EVERY = 2.5  # seconds between faults
REQUEST_TIMEOUT = 15
RETRY_FOR = 60  # seconds a bot keeps sending one request while the server is away
FAULTS = ["worker", "connections", "scheduler", "bulk_run", "master"]


class Fleet:
    """The processes under test: the server (replaced when its master is killed) and two
    scheduler loops, each restartable; stopped at the end."""

    def __init__(self, start_server, tmp_path):
        self.start_server = start_server
        self.tmp_path = tmp_path
        self.server = start_server(workers=2, threads=4)
        self.schedulers = [self.scheduler() for _ in range(2)]
        self.lock = threading.Lock()

    def api(self, path: str) -> str:
        with self.lock:
            return self.server.api(path)

    def manage(self, *args: str, log: str) -> subprocess.Popen:
        out = (self.tmp_path / log).open("a")
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=server_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def scheduler(self) -> subprocess.Popen:
        return self.manage("warmup_tick", "--loop", "--interval", "0.3", log="scheduler.log")

    def stop(self) -> None:
        for process in self.schedulers:
            kill(process.pid)
            process.wait(timeout=30)


def kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def workers_of(master: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def play(fault: str, fleet: Fleet, ledger: Ledger, reviewer, rng: random.Random) -> None:
    if fault == "worker":
        workers = workers_of(fleet.server.pid)
        if workers:
            os.kill(rng.choice(workers), signal.SIGKILL)  # the master starts another
    elif fault == "connections":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                [SERVER_APP_NAME],
            )
            terminated = cursor.fetchone()[0]
        with ledger.lock:
            ledger.counts["connections terminated"] += terminated
        connection.close()
    elif fault == "scheduler":
        index = rng.randrange(len(fleet.schedulers))
        victim = fleet.schedulers[index]
        kill(victim.pid)
        victim.wait(timeout=30)
        fleet.schedulers[index] = fleet.scheduler()
    elif fault == "bulk_run":
        run = fleet.manage(
            "resolve_reviews",
            "--all",
            "--action",
            "resume",
            "--reason",
            "other",
            "--note",
            "fault run",
            "--user",
            reviewer.username,
            log="bulk.log",
        )
        time.sleep(rng.uniform(0.3, 1.5))
        kill(run.pid)
        run.wait(timeout=30)
    elif fault == "master":
        kill(fleet.server.pid)
        server = fleet.start_server(workers=2, threads=4)
        with fleet.lock:
            fleet.server = server
    ledger.count(f"fault {fault}")


# --- A bot that follows docs/bots.md ---------------------------------------------------------


def send(ledger: Ledger, session, fleet: Fleet, path: str, body: dict):
    """POST until answered other than 503 (Retry-After honoured) or a dropped connection; the
    response, or None when the server stayed away RETRY_FOR seconds. `lost` says whether an
    earlier try may have arrived without its answer reaching us."""
    deadline = time.monotonic() + RETRY_FOR
    lost = False
    while not ledger.stop.is_set() or path.endswith(("/complete/", "/fail/", "/heartbeat/")):
        try:
            response = session.post(fleet.api(path), json=body, timeout=REQUEST_TIMEOUT)
        except requests.RequestException:
            ledger.count("connection errors")
            lost, wait = True, 0.3
        else:
            if response.status_code != 503:
                return response, lost
            ledger.count("503 answers")
            wait = float(response.headers.get("Retry-After") or 1)
        if time.monotonic() > deadline:
            return None, lost
        time.sleep(min(wait, 1.0))
    return None, lost


def answered(ledger: Ledger, response, what: str) -> bool:
    if response.status_code == 200:
        return True
    if response.status_code == 409:
        ledger.refused(response.json().get("code", ""), "bot")
    else:
        ledger.fail(f"bot {what}: HTTP {response.status_code} {response.text[:300]}")
    return False


def bot_step(ledger: Ledger, bot, session, fleet: Fleet, rng: random.Random) -> None:
    claimed, lost = send(ledger, session, fleet, "phases/claim/", {})
    if lost:
        ledger.count("claims maybe lost")  # a claim may have landed unseen: its lease expires
    if claimed is None:
        return
    if claimed.status_code == 204:
        ledger.stop.wait(0.1)
        return
    if not answered(ledger, claimed, "claim"):
        return
    phase = claimed.json()
    ledger.claimed(phase["id"], phase["lease_token"], bot.pk)
    action, category, retryable = draw(rng)
    if action == "hang":
        ledger.count("hang")
        return
    lease = {"lease_token": phase["lease_token"]}
    path = f"phases/{phase['id']}"
    if action == "heartbeat_then_complete":
        beat, _ = send(ledger, session, fleet, f"{path}/heartbeat/", lease)
        if beat is None or not answered(ledger, beat, "heartbeat"):
            return
    if action == "fail":
        body = {**lease, "category": category, "reason": "fault run", "retryable": retryable}
        response, lost = send(ledger, session, fleet, f"{path}/fail/", body)
        outcome = AttemptOutcome.FAILED
    else:
        response, lost = send(ledger, session, fleet, f"{path}/complete/", lease)
        outcome = AttemptOutcome.COMPLETED
    if response is None:
        ledger.count("reports unanswered")
        return
    if answered(ledger, response, outcome):
        decision = response.json()["outcome"] if outcome == AttemptOutcome.FAILED else ""
        ledger.accept(phase["lease_token"], outcome, category or "", decision)
        if lost:
            ledger.count("reports delivered after a lost answer")


# --- The run ----------------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_bots_lose_nothing_while_workers_schedulers_bulk_runs_and_connections_are_killed(
    start_server, http_bots, tmp_path, capsys
):
    # given a fleet of accounts, two scheduler loops and gunicorn
    enrol(ACCOUNTS)
    reviewer = UserFactory(reviewer=True)
    fleet = Fleet(start_server, tmp_path)
    ledger = Ledger()
    rng = random.Random(7)

    # when 8 bots and a reviewer work while the faults are played in turn
    actor = Actor.for_user(reviewer)
    reviewer_rng = random.Random(8)
    threads = [run_thread(ledger, "reviewer", lambda: reviewer_step(ledger, actor, reviewer_rng))]
    for index, (bot, session) in enumerate(http_bots(BOTS)):
        bot_rng = random.Random(700 + index)
        threads.append(
            run_thread(
                ledger,
                f"bot-{index}",
                lambda b=bot, s=session, r=bot_rng: bot_step(ledger, b, s, fleet, r),
            )
        )
    played = Counter()

    def faults():
        turn = 0
        while not ledger.stop.wait(FAULT_EVERY):
            fault = FAULTS[turn % len(FAULTS)]
            try:
                play(fault, fleet, ledger, reviewer, rng)
            except Exception as error:  # noqa: BLE001 (reported as the run's failure)
                ledger.fail(f"fault {fault}: {error!r}")
            played[fault] += 1
            turn += 1

    injector = threading.Thread(target=faults, name="faults")
    injector.start()
    started = time.monotonic()
    while (ledger.cycles < CYCLES or len(played) < len(FAULTS)) and not ledger.stop.is_set():
        if time.monotonic() - started > 240:
            ledger.fail(f"the run did not finish in 240 s: {ledger.cycles} claims, {played}")
            break
        time.sleep(0.5)
    wall = run_until(ledger, 0, threads)  # stop the bots and the reviewer
    injector.join(60)
    fleet.stop()
    connection.close()
    with capsys.disabled():
        counts = ", ".join(f"{key} {n}" for key, n in sorted(ledger.counts.items()))
        print(
            f"\nfault run: {ledger.cycles} claims in {time.monotonic() - started:.0f} s; {counts}"
        )

    # then nothing failed but what the domain refuses, and the data agrees with the bots
    assert ledger.unexpected == [], "\n".join(ledger.unexpected[:5])
    assert set(played) == set(FAULTS), played
    assert ledger.counts["accepted completed"] and ledger.counts["accepted failed"]
    assert wall >= 0
    assert_nothing_lost(ledger)
    assert_integrity()


def assert_nothing_lost(ledger: Ledger) -> None:
    tokens = [token for _, token, _ in ledger.claims]
    assert len(tokens) == len(set(tokens))
    attempts = list(
        PhaseAttempt.objects.order_by("phase_id", "number").values(
            "phase_id", "lease_token", "bot_id", "claimed_at", "finished_at", "outcome",
            "failure_category", "decision",
        )
    )  # fmt: skip
    by_token = {str(a["lease_token"]): a for a in attempts}
    # every claim a bot was told of is an attempt of that phase and bot; others only where a
    # claim's answer may have been lost
    for phase_id, token, bot_id in ledger.claims:
        assert (by_token[token]["phase_id"], by_token[token]["bot_id"]) == (phase_id, bot_id)
    unseen = len(by_token) - len(ledger.claims)
    assert 0 <= unseen <= ledger.counts["claims maybe lost"]

    # no phase was held by two bots at once
    previous = None
    for attempt in attempts:
        if previous is not None and previous["phase_id"] == attempt["phase_id"]:
            assert previous["finished_at"] is not None, (previous, attempt)
            assert previous["finished_at"] <= attempt["claimed_at"], (previous, attempt)
        previous = attempt
    open_attempts = {str(a["lease_token"]) for a in attempts if a["finished_at"] is None}
    leases = WarmupPhase.objects.filter(status=S.IN_PROGRESS).values_list("lease_token", flat=True)
    assert open_attempts == {str(token) for token in leases}

    # every report a bot was told was accepted is there, as it was told
    for token, (outcome, category, decision) in ledger.accepted.items():
        attempt = by_token[token]
        assert (attempt["outcome"], attempt["failure_category"], attempt["decision"]) == (
            outcome,
            category,
            decision,
        ), token
    # and a report is there only if a bot was told so, or its answer never reached the bot
    reported = [
        a
        for a in attempts
        if a["outcome"] in (AttemptOutcome.COMPLETED, AttemptOutcome.FAILED)
        and str(a["lease_token"]) not in ledger.accepted
    ]
    assert len(reported) <= ledger.counts["reports unanswered"] + unseen
    completed = sum(1 for a in attempts if a["outcome"] == AttemptOutcome.COMPLETED)
    by_bots = WarmupPhase.objects.filter(status=S.COMPLETED, completion_method=CompletionMethod.BOT)
    assert by_bots.count() == completed
