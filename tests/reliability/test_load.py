"""Load, bounded to run in CI on PostgreSQL: a fleet of bots claiming and reporting with a mix of
failures and hangs, a reviewer resolving and holding items, and the scheduler ticking in a loop,
all at once. First 16 bots over the service layer (at least 5,000 cycles), then 8 bots over
HTTP against gunicorn.

What must hold, whatever the interleaving: no phase handed to two bots at once (every lease
token unique; a phase's attempts never overlap), no report the system accepted lost (each is in
its attempt row, with the outcome the bot was told), no error but the domain's expected
refusals (lease_lost, invalid_transition), no 5xx, and no step of the scheduler failing. Counts
and wall time are printed (`pytest -s`); tune the counts, not the assertions.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.db import connection

from tests.conftest import requires_postgres
from tests.factories import AccountFactory, BotFactory, UserFactory
from tests.integrity import assert_integrity
from tests.reliability.conftest import quick_plan
from warmup.domain.actors import Actor
from warmup.domain.choices import ReasonCode
from warmup.domain.errors import DomainError
from warmup.models import (
    AccountStatus,
    AttemptOutcome,
    CompletionMethod,
    FailureCategory,
    PhaseAttempt,
    PhaseStatus,
    WarmupPhase,
)
from warmup.services.accounts import account_reactivate
from warmup.services.bot_work import phase_claim, phase_complete, phase_fail, phase_heartbeat
from warmup.services.resolutions import review_resolve
from warmup.services.review import review_hold
from warmup.services.tick import tick

pytestmark = [pytest.mark.slow, requires_postgres, pytest.mark.django_db(transaction=True)]

S = PhaseStatus
LEASE = timedelta(seconds=2)  # a hung bot's phase comes back after two seconds and a tick
STALL_LIMIT = 30  # seconds without a single new claim: the run has stalled (the test fails)
IDLE_WAIT = 0.1  # seconds a bot waits after finding nothing to claim, as real bots do
JOIN_TIMEOUT = 60  # seconds for a thread to finish once told to stop

# What a bot does with a claimed phase: (weight, action, category, says retryable).
MIX = [
    (60, "complete", None, True),
    (3, "heartbeat_then_complete", None, True),
    (4, "hang", None, True),
    (8, "fail", FailureCategory.NETWORK_ERROR, True),
    (4, "fail", FailureCategory.PROXY_ERROR, True),
    (3, "fail", FailureCategory.RATE_LIMITED, True),
    (3, "fail", FailureCategory.BOT_ERROR, True),
    (2, "fail", FailureCategory.UNKNOWN, True),
    (2, "fail", FailureCategory.NETWORK_ERROR, False),  # the bot asks for a person at once
    (3, "fail", FailureCategory.LOGIN_FAILED, True),
    (3, "fail", FailureCategory.CHALLENGE_REQUIRED, True),
    (2, "fail", FailureCategory.ACTION_BLOCKED, True),
    (2, "fail", FailureCategory.CONTENT_REJECTED, True),
    (1, "fail", FailureCategory.ACCOUNT_SUSPENDED, True),
]
EXPECTED_CODES = {"lease_lost", "invalid_transition", "account_not_active"}


# --- What the threads saw ---------------------------------------------------------------------


@dataclass
class Ledger:
    """Everything bots, the reviewer and the scheduler were told, for checking against the
    database afterwards. Threads append under one lock."""

    claims: list[tuple[int, str, int]] = field(default_factory=list)  # phase, token, bot
    accepted: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # token -> report
    counts: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def claimed(self, phase_id: int, token, bot_id: int) -> None:
        with self.lock:
            self.claims.append((phase_id, str(token), bot_id))

    def accept(self, token, outcome: str, category: str = "", decision: str = "") -> None:
        with self.lock:
            self.accepted[str(token)] = (outcome, category, decision)
            self.counts[f"accepted {outcome}"] += 1

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def refused(self, code: str, who: str) -> None:
        """An expected refusal; anything else is unexpected."""
        if code in EXPECTED_CODES:
            self.count(f"{who} refused: {code}")
        else:
            self.fail(f"{who}: unexpected refusal {code}")

    def fail(self, what: str) -> None:
        with self.lock:
            self.unexpected.append(what)

    @property
    def cycles(self) -> int:
        return len(self.claims)


def run_thread(ledger: Ledger, name: str, body: Callable[[], None]) -> threading.Thread:
    """Start `body` in a loop until the ledger says stop; an exception is recorded and stops
    the whole run (it is what the test reports). The thread closes its connection."""

    def loop():
        try:
            while not ledger.stop.is_set():
                body()
        except BaseException:
            ledger.fail(f"{name}: {traceback.format_exc()}")
            ledger.stop.set()
        finally:
            connection.close()

    thread = threading.Thread(target=loop, name=name)
    thread.start()
    return thread


def run_until(ledger: Ledger, cycles: int, threads: list[threading.Thread]) -> float:
    """Let the threads work until `cycles` claims were made (or no claim was made for
    STALL_LIMIT seconds, or a thread failed); stop them and return the wall time. Progress, not
    speed, is the condition: a busy machine makes the run longer, never failed."""
    started = last_progress = time.monotonic()
    seen = ledger.cycles
    while ledger.cycles < cycles and not ledger.stop.is_set():
        if ledger.cycles != seen:
            seen, last_progress = ledger.cycles, time.monotonic()
        elif time.monotonic() - last_progress > STALL_LIMIT:
            ledger.fail(f"stalled: no claim in {STALL_LIMIT} s, at {seen} of {cycles} cycles")
            break
        ledger.stop.wait(0.2)
    ledger.stop.set()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread did not stop: a hang or deadlock"
    return time.monotonic() - started


# --- The fleet: accounts, the reviewer and the scheduler --------------------------------------


def enrol(count: int):
    plan = quick_plan(lease=LEASE)
    AccountFactory.create_batch(count, plan=plan)
    tick()


def reviewer_step(ledger: Ledger, actor: Actor, rng: random.Random) -> None:
    """One round of a reviewer at work: resolve a few items in review (reactivating an account
    suspended by a failure first), and now and then hold a phase a bot may be working on."""
    items = list(
        WarmupPhase.objects.filter(status=S.REVIEW_REQUIRED)
        .order_by("?")
        .values_list("pk", "account_id", "account__status")[:10]
    )
    for phase_id, _account, account_status in items:
        try:
            if account_status != AccountStatus.ACTIVE:
                account = WarmupPhase.objects.get(pk=phase_id).account
                account_reactivate(account=account, actor=actor, note="checked by hand")
                ledger.count("reviewer reactivated")
            method = rng.choice(["resume", "resume", "retry", "retry", "complete", "skip"])
            review_resolve(
                phase_id=phase_id,
                method=method,
                reason_code=ReasonCode.OTHER,
                note="load test",
                actor=actor,
            )
            ledger.count(f"reviewer {method}")
        except DomainError as error:
            ledger.refused(error.code, "reviewer")
    if rng.random() < 0.5:
        busy = (
            WarmupPhase.objects.filter(status__in=[S.IN_PROGRESS, S.CONTENT_ASSIGNED])
            .order_by("?")
            .values_list("pk", flat=True)
            .first()
        )
        if busy is not None:
            try:
                review_hold(phase_id=busy, note="a closer look", actor=actor)
                ledger.count("reviewer hold")
            except DomainError as error:
                ledger.refused(error.code, "reviewer")
    ledger.stop.wait(0.05)


def scheduler_step(ledger: Ledger) -> None:
    report = tick()
    with ledger.lock:
        ledger.counts.update({f"tick {key}": n for key, n in report.as_dict().items() if n})
    ledger.stop.wait(0.05)


def start_support(ledger: Ledger, *, seed: int) -> list[threading.Thread]:
    """The reviewer and the scheduler loop, in threads of their own."""
    actor = Actor.for_user(UserFactory(reviewer=True))
    rng = random.Random(seed)
    return [
        run_thread(ledger, "reviewer", lambda: reviewer_step(ledger, actor, rng)),
        run_thread(ledger, "scheduler", lambda: scheduler_step(ledger)),
    ]


def draw(rng: random.Random):
    return rng.choices(MIX, weights=[weight for weight, *_ in MIX])[0][1:]


# --- Checking what the threads saw against the database ---------------------------------------


def assert_consistent(ledger: Ledger, caplog) -> None:
    # no error but the expected refusals, and no step of the scheduler failed
    assert ledger.unexpected == [], "\n".join(ledger.unexpected[:5])
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []

    # every claim got a lease token of its own, and made exactly one attempt with it
    tokens = [token for _, token, _ in ledger.claims]
    assert len(tokens) == len(set(tokens))
    attempts = list(
        PhaseAttempt.objects.order_by("phase_id", "number").values(
            "phase_id",
            "lease_token",
            "bot_id",
            "claimed_at",
            "finished_at",
            "outcome",
            "failure_category",
            "decision",
        )
    )
    assert sorted((a["phase_id"], str(a["lease_token"]), a["bot_id"]) for a in attempts) == sorted(
        ledger.claims
    )

    # no phase was held by two bots at once: each attempt was over before the next began
    overlaps, previous = [], None
    for attempt in attempts:
        if previous is not None and previous["phase_id"] == attempt["phase_id"]:
            if previous["finished_at"] is None or previous["finished_at"] > attempt["claimed_at"]:
                overlaps.append((previous, attempt))
        previous = attempt
    assert overlaps == []
    open_attempts = {str(a["lease_token"]) for a in attempts if a["finished_at"] is None}
    leases = WarmupPhase.objects.filter(status=S.IN_PROGRESS).values_list("lease_token", flat=True)
    assert open_attempts == {str(token) for token in leases}

    # no accepted report was lost, and none counted that was not accepted
    by_token = {str(a["lease_token"]): a for a in attempts}
    for token, (outcome, category, decision) in ledger.accepted.items():
        attempt = by_token[token]
        assert (attempt["outcome"], attempt["failure_category"], attempt["decision"]) == (
            outcome,
            category,
            decision,
        ), token
    reported = Counter(
        a["outcome"]
        for a in attempts
        if a["outcome"] in (AttemptOutcome.COMPLETED, AttemptOutcome.FAILED)
    )
    assert reported == Counter(outcome for outcome, _, _ in ledger.accepted.values())
    completed_by_bots = WarmupPhase.objects.filter(
        status=S.COMPLETED, completion_method=CompletionMethod.BOT
    )
    assert completed_by_bots.count() == reported[AttemptOutcome.COMPLETED]

    # and every promise across the tables holds
    assert_integrity()


def summary(name: str, ledger: Ledger, wall: float, bots: int) -> str:
    counts = ", ".join(f"{key} {n}" for key, n in sorted(ledger.counts.items()))
    return (
        f"\n{name}: {ledger.cycles} claim-and-report cycles by {bots} bots in {wall:.1f} s "
        f"({ledger.cycles / wall:.0f}/s)\n  {counts}"
    )


# --- 16 bots over the service layer -----------------------------------------------------------

SERVICE_BOTS = 16
SERVICE_CYCLES = 5000
SERVICE_ACCOUNTS = 700  # five steps each: enough ready work that 16 bots stay busy


def service_bot_step(ledger: Ledger, bot, rng: random.Random) -> None:
    """One cycle of a bot over the services: claim, then do what the mix says."""
    phase = phase_claim(bot=bot)
    if phase is None:
        ledger.count("idle")
        ledger.stop.wait(IDLE_WAIT)
        return
    ledger.claimed(phase.pk, phase.lease_token, bot.pk)
    action, category, retryable = draw(rng)
    lease = {"phase_id": phase.pk, "bot": bot, "lease_token": phase.lease_token}
    try:
        if action == "hang":
            ledger.count("hang")
        elif action == "fail":
            outcome = phase_fail(
                **lease, category=category, reason=f"{category} under load", retryable=retryable
            )
            ledger.accept(phase.lease_token, AttemptOutcome.FAILED, category, outcome.decision)
        else:
            if action == "heartbeat_then_complete":
                phase_heartbeat(**lease)
            phase_complete(**lease, result={"load": True})
            ledger.accept(phase.lease_token, AttemptOutcome.COMPLETED)
    except DomainError as error:
        ledger.refused(error.code, "bot")


@pytest.mark.timeout(1200)  # the suite's 300 s is too short for a busy machine; stalls fail above
def test_sixteen_bots_a_reviewer_and_the_scheduler_over_the_services(caplog, capsys):
    # given a fleet of accounts on a plan that moves in seconds
    enrol(SERVICE_ACCOUNTS)
    bots = BotFactory.create_batch(SERVICE_BOTS)
    ledger = Ledger()

    # when 16 bots, a reviewer and the scheduler work at once
    threads = start_support(ledger, seed=1)
    for index, bot in enumerate(bots):
        rng = random.Random(100 + index)
        threads.append(
            run_thread(ledger, f"bot-{index}", lambda b=bot, r=rng: service_bot_step(ledger, b, r))
        )
    wall = run_until(ledger, SERVICE_CYCLES, threads)
    with capsys.disabled():
        print(summary("service-layer load", ledger, wall, SERVICE_BOTS))

    # then they did the work, and the data agrees with everything each of them was told
    assert ledger.cycles >= SERVICE_CYCLES
    assert ledger.counts["accepted completed"] and ledger.counts["accepted failed"]
    assert ledger.counts["tick expired"], "no hung claim reached lease expiry"
    assert_consistent(ledger, caplog)


# --- 8 bots over HTTP, against gunicorn -------------------------------------------------------

HTTP_BOTS = 8
HTTP_CYCLES = 800
HTTP_ACCOUNTS = 150


@pytest.fixture(scope="module")
def server(start_server):
    """gunicorn as `make serve` runs it by default: two workers of four threads."""
    return start_server(workers=2, threads=4)


def http_report(ledger: Ledger, session, server, phase: dict, action, category, retryable):
    """Report on a claimed phase over HTTP and record what the bot was told."""
    lease = {"lease_token": phase["lease_token"]}
    path = f"phases/{phase['id']}"
    if action == "hang":
        ledger.count("hang")
        return
    if action == "heartbeat_then_complete":
        answer = session.post(server.api(f"{path}/heartbeat/"), json=lease, timeout=30)
        if not http_answered(ledger, answer):
            return
    if action == "fail":
        body = {**lease, "category": category, "reason": "under load", "retryable": retryable}
        answer = session.post(server.api(f"{path}/fail/"), json=body, timeout=30)
        if http_answered(ledger, answer):
            decision = answer.json()["outcome"]
            ledger.accept(phase["lease_token"], AttemptOutcome.FAILED, category, decision)
        return
    answer = session.post(server.api(f"{path}/complete/"), json=lease, timeout=30)
    if http_answered(ledger, answer):
        ledger.accept(phase["lease_token"], AttemptOutcome.COMPLETED)


def http_answered(ledger: Ledger, response) -> bool:
    """True for a 200; an expected 409 is counted, any other answer is unexpected."""
    if response.status_code == 200:
        return True
    if response.status_code == 409:
        ledger.refused(response.json().get("code", ""), "bot")
    else:
        ledger.fail(f"bot: HTTP {response.status_code} {response.text[:300]}")
    return False


def http_bot_step(ledger: Ledger, bot, session, server, rng: random.Random) -> None:
    claimed = session.post(server.api("phases/claim/"), json={}, timeout=30)
    if claimed.status_code == 204:
        ledger.count("idle")
        ledger.stop.wait(IDLE_WAIT)
        return
    if claimed.status_code != 200:
        ledger.fail(f"bot: claim answered HTTP {claimed.status_code} {claimed.text[:300]}")
        return
    phase = claimed.json()
    ledger.claimed(phase["id"], phase["lease_token"], bot.pk)
    http_report(ledger, session, server, phase, *draw(rng))


@pytest.mark.timeout(900)
def test_eight_bots_over_http_with_a_reviewer_and_the_scheduler(server, http_bots, caplog, capsys):
    # given a fleet of accounts, and bots that know the system only through its HTTP API
    enrol(HTTP_ACCOUNTS)
    ledger = Ledger()

    # when 8 bots work over HTTP against gunicorn as a reviewer and the scheduler work too
    threads = start_support(ledger, seed=2)
    for index, (bot, session) in enumerate(http_bots(HTTP_BOTS)):
        rng = random.Random(200 + index)
        threads.append(
            run_thread(
                ledger,
                f"http-bot-{index}",
                lambda b=bot, s=session, r=rng: http_bot_step(ledger, b, s, server, r),
            )
        )
    wall = run_until(ledger, HTTP_CYCLES, threads)
    with capsys.disabled():
        print(summary("HTTP load", ledger, wall, HTTP_BOTS))

    # then no answer was a 5xx (or anything unexpected), and the data agrees with the bots
    assert ledger.cycles >= HTTP_CYCLES
    assert ledger.counts["accepted completed"] and ledger.counts["accepted failed"]
    assert "Traceback" not in server.log.read_text()  # no request failed inside the server
    assert_consistent(ledger, caplog)
