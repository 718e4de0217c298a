"""The breaker: when one failure signature's failures pile up, stop handing out the phases it
fails on (issue 17), and hand them out again after a cool-down and a few trial claims.

The rules (docs/bots.md, "The breaker"; numbers in `settings.WARMUP_BREAKER`):
- It opens when, within `window`, a signature has failed at least `min_failures` times in its
  scope, and those failures are at least `min_rate` of the scope's attempts that ended in the
  window (so a big fleet's everyday noise does not open it).
- Its scope is the signature's plan step, narrowed to one platform, and to one bot, when at
  least `concentration` of the window's failures of that step come from it.
- Open, claims of its scope hand out nothing (the bots get 204); the claim's test is declared
  once in `warmup.lifecycle.state` (BREAKER_BLOCKS) and both claim engines run it.
- After `cooldown` it is half open: `trial_claims` claims of its scope go through (each claim
  takes one under the breaker's row lock). When that many trials completed, it closes; a trial
  that fails with the signature reopens it for another cool-down; a trial that ends otherwise
  (another failure, a lost lease) is given back.
- A review lead may close it by hand, with a reason code and a note.

Each opening and closing writes a ReviewLog row (on the phase whose failure opened it) and a log
line after commit; a first opening notifies the reviewers (mail and webhook), once.

Locks, in the order every path takes them: phases, then a signature's row (one opening at a
time per signature), then a breaker's row. A claim holds its phase and waits on a breaker's row
to take a trial; closing and the scheduler's step lock the breaker's log phase first.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from reviews.permissions import can_close_breakers
from warmup.domain.actors import SYSTEM, Actor
from warmup.domain.choices import AttemptOutcome, BreakerState, FailureCategory
from warmup.domain.errors import (
    BREAKER_ALREADY_CLOSED,
    BREAKER_CLOSE_NOT_PERMITTED,
    BREAKER_NOT_FOUND,
    InvalidInput,
    NotFound,
    NotPermitted,
)
from warmup.domain.validation import require_note, require_reason_code
from warmup.lifecycle import review_log
from warmup.lifecycle.state import (
    BREAKER_COVERS,
    BREAKER_TRIAL,
    BREAKER_TRIAL_TAKEN,
    OWN_ROW,
    matching,
    written,
)
from warmup.models import Breaker, FailureSignature, PhaseAttempt, WarmupPhase
from warmup.services.notifications import notify_breaker_opened

log = structlog.get_logger("warmup.breaker")

TRIALS_PASSED = "Its {count} trial claims completed: claims of its scope go on."
TURNED_OFF = "Breakers are turned off (WARMUP_BREAKER['enabled'])."


@dataclass(frozen=True)
class BreakerRules:
    """`settings.WARMUP_BREAKER`, read when used (tests and operators change it)."""

    enabled: bool
    window: timedelta
    min_failures: int
    min_rate: float
    concentration: float
    cooldown: timedelta
    trial_claims: int


def breaker_rules() -> BreakerRules:
    return BreakerRules(**settings.WARMUP_BREAKER)


@dataclass(frozen=True)
class Scope:
    """The phases a breaker covers: a plan step, on one platform or all (""), by one bot or all
    (None)."""

    phase_type: str
    platform: str = ""
    bot_id: int | None = None

    def attempts(self) -> Q:
        """Its attempts, as a filter of PhaseAttempt."""
        within = Q(phase__phase_type=self.phase_type)
        if self.platform:
            within &= Q(phase__platform=self.platform)
        if self.bot_id is not None:
            within &= Q(bot_id=self.bot_id)
        return within

    @classmethod
    def of(cls, breaker: Breaker) -> Scope:
        return cls(breaker.phase_type, breaker.platform, breaker.bot_id)


@dataclass(frozen=True)
class Failed:
    """A failure `failures_record` just stored: its signature's key, its phase (locked by the
    caller) and the attempt it ended (None when there was none)."""

    signature: str
    phase: WarmupPhase
    attempt: PhaseAttempt | None


def _log_after_commit(event: str, breaker: Breaker, **fields) -> None:
    line = {
        **structlog.contextvars.get_contextvars(),
        "breaker": breaker.pk,
        "signature": breaker.signature_id,
        **breaker.scope,
        **fields,
    }
    transaction.on_commit(partial(log.warning, event, **line))


# --- Opening: from the failure path ----------------------------------------------------


def breakers_check(failed: list[Failed], *, now: datetime) -> list[Breaker]:
    """After `failures_record` stored `failed` (in its transaction, holding their phases' row
    locks): open a breaker for each signature whose failures pass the rules, and reopen a half
    open one whose trial claim failed with its signature. Returns the breakers opened or
    reopened.

    Side effects: a Breaker row, a ReviewLog row and a log line per opening; after commit, one
    notification per first opening. A signature below the threshold costs one indexed count of
    at most `min_failures` rows."""
    rules = breaker_rules()
    if not rules.enabled or not failed:
        return []
    by_signature: dict[str, list[Failed]] = defaultdict(list)
    for failure in failed:
        by_signature[failure.signature].append(failure)
    live = {
        breaker.signature_id: breaker
        for breaker in Breaker.objects.filter(
            signature_id__in=list(by_signature), closed_at__isnull=True
        )
    }
    opened = []
    for key in sorted(by_signature):  # one order of the signatures' locks for every caller
        failures = by_signature[key]
        if key in live:
            trial = _failed_trial(live[key], failures, now)
            if trial is not None and (breaker := _reopen(live[key], trial, rules, now)):
                opened.append(breaker)
        elif breaker := _open_if_due(key, failures[-1], rules, now):
            opened.append(breaker)
    return opened


def _open_if_due(key: str, failure: Failed, rules: BreakerRules, now: datetime) -> Breaker | None:
    start = now - rules.window
    window = PhaseAttempt.objects.filter(signature_id=key, finished_at__gte=start).order_by()
    if window[: rules.min_failures].count() < rules.min_failures:
        return None
    # One opening at a time per signature: the second waits here, then finds the first's.
    FailureSignature.objects.select_for_update().get(pk=key)
    if Breaker.objects.filter(signature_id=key, closed_at__isnull=True).exists():
        return None
    seen = list(window.values_list("phase__phase_type", "phase__platform", "bot_id"))
    scope = _scope_of(seen, rules)
    failures = sum(1 for row in seen if _within(scope, *row))
    if failures < rules.min_failures:
        return None
    # The rate needs the scope's ended attempts only up to the count that would put it under
    # `min_rate`, so a busy fleet's window is never counted whole.
    enough = math.floor(failures / rules.min_rate) + 1
    attempts = _ended(scope, start)[:enough].count()
    if failures < rules.min_rate * attempts:
        return None
    breaker = Breaker.objects.create(
        signature_id=key,
        phase_type=scope.phase_type,
        platform=scope.platform,
        bot_id=scope.bot_id,
        state=BreakerState.OPEN,
        opened_at=now,
        cooldown_until=now + rules.cooldown,
        trials_left=rules.trial_claims,
        failures=failures,
        attempts=attempts,
        phase=failure.phase,
    )
    review_log.breaker_opened(breaker=breaker, phase=failure.phase, reopened=False)
    _log_after_commit("breaker_opened", breaker, failures=failures, attempts=attempts)
    transaction.on_commit(partial(notify_breaker_opened, breaker.pk))
    return breaker


def _scope_of(seen: list[tuple[str, str, int]], rules: BreakerRules) -> Scope:
    """The rule of the scope: the plan step most of the failures are on, narrowed to the
    platform, and to the bot, that has at least `concentration` of that step's failures."""
    phase_type, _ = Counter(row[0] for row in seen).most_common(1)[0]
    step = [row for row in seen if row[0] == phase_type]

    def concentrated(index: int):
        value, count = Counter(row[index] for row in step).most_common(1)[0]
        return value if count >= rules.concentration * len(step) else None

    return Scope(phase_type, concentrated(1) or "", concentrated(2))


def _within(scope: Scope, phase_type: str, platform: str, bot_id: int) -> bool:
    return (
        phase_type == scope.phase_type
        and scope.platform in ("", platform)
        and scope.bot_id in (None, bot_id)
    )


def _ended(scope: Scope, start: datetime) -> QuerySet:
    """The scope's attempts that ended since `start`. Every ended attempt has a failure
    category or none (""): naming them all lets the database read the (category, finished_at)
    index, a range per category, rather than every attempt."""
    categories = [*FailureCategory.values, ""]
    return PhaseAttempt.objects.filter(
        scope.attempts(), failure_category__in=categories, finished_at__gte=start
    ).order_by()


def _failed_trial(breaker: Breaker, failures: list[Failed], now: datetime) -> Failed | None:
    """The last of `failures` (of the breaker's signature) that is a trial claim of the
    breaker's: claimed in its scope since its cool-down ended. None while it is open."""
    if breaker.cooldown_until > now:
        return None
    attempts = {f.attempt.pk: f for f in failures if f.attempt is not None}
    trials = set(
        PhaseAttempt.objects.filter(
            Scope.of(breaker).attempts(),
            pk__in=list(attempts),
            claimed_at__gte=breaker.cooldown_until,
        ).values_list("pk", flat=True)
    )
    found = [failure for pk, failure in attempts.items() if pk in trials]
    return found[-1] if found else None


def _reopen(breaker: Breaker, trial: Failed, rules: BreakerRules, now: datetime) -> Breaker | None:
    breaker = (
        Breaker.objects.select_for_update().filter(pk=breaker.pk, closed_at__isnull=True).first()
    )
    if breaker is None or breaker.cooldown_until > now:
        return None  # closed, or reopened by another trial, meanwhile
    breaker.state = BreakerState.OPEN
    breaker.opened_at = now
    breaker.cooldown_until = now + rules.cooldown
    breaker.trials_left = rules.trial_claims
    breaker.openings += 1
    breaker.save(update_fields=["state", "opened_at", "cooldown_until", "trials_left", "openings"])
    review_log.breaker_opened(breaker=breaker, phase=trial.phase, reopened=True)
    _log_after_commit("breaker_reopened", breaker, openings=breaker.openings)
    return breaker


# --- The claim's trials ------------------------------------------------------------------


def breaker_trials_take(phase: WarmupPhase, *, bot_id: int, now: datetime) -> bool:
    """The ORM claim's side of BREAKER_TRIAL (the one-statement claim renders the same): take
    one trial claim of every live breaker whose scope `phase` is in, for `bot_id`. False when
    one had none to give by the time its row lock was ours (another claim took the last, or it
    reopened since the phase was chosen): then the caller hands out nothing. Caller holds the
    phase's row lock and the transaction."""
    covering = Breaker.objects.filter(matching(BREAKER_COVERS, row=phase, bot=bot_id))
    wanted = list(covering.values_list("pk", flat=True))
    if not wanted:
        return True
    # The UPDATE waits on a row another claim holds, then tests the row again.
    trials = Breaker.objects.filter(matching(BREAKER_TRIAL, row=phase, now=now, bot=bot_id))
    taken = trials.filter(pk__in=wanted).update(**written(BREAKER_TRIAL_TAKEN, OWN_ROW))
    return taken == len(wanted)


# --- The scheduler's step: half open, closed after its trials ----------------------------


def breakers_advance(*, now: datetime) -> int:
    """The scheduler's step over the live breakers whose cool-down ended: half open with as
    many trial claims as are still to run (a trial that ended other than completed or failed
    the same way is given back), or closed once `trial_claims` trials completed. Turned off,
    it closes every live one. Each breaker in a transaction of its own. Returns how many
    closed."""
    rules = breaker_rules()
    due = Breaker.objects.filter(closed_at__isnull=True)
    if rules.enabled:
        due = due.filter(cooldown_until__lte=now)
    closed = 0
    for breaker_id, phase_id in due.values_list("pk", "phase_id"):
        with transaction.atomic():
            phase = _log_phase(phase_id)
            breaker = (
                Breaker.objects.select_for_update()
                .filter(pk=breaker_id, closed_at__isnull=True)
                .first()
            )
            if breaker is None:
                continue
            if not rules.enabled:
                _close(breaker, phase=phase, actor=SYSTEM, reason_code="", note=TURNED_OFF, now=now)
                closed += 1
            elif breaker.cooldown_until <= now:
                closed += _trial_step(breaker, phase=phase, rules=rules, now=now)
    return closed


def _trial_step(breaker: Breaker, *, phase: WarmupPhase, rules: BreakerRules, now: datetime) -> int:
    trials = PhaseAttempt.objects.filter(
        Scope.of(breaker).attempts(), claimed_at__gte=breaker.cooldown_until
    ).order_by()
    completed = trials.filter(outcome=AttemptOutcome.COMPLETED).count()
    if completed >= rules.trial_claims:
        note = TRIALS_PASSED.format(count=completed)
        _close(breaker, phase=phase, actor=SYSTEM, reason_code="", note=note, now=now)
        return 1
    running = trials.filter(outcome="").count()
    left = max(rules.trial_claims - completed - running, 0)
    if breaker.state == BreakerState.OPEN:
        _log_after_commit("breaker_half_open", breaker, trials=left)
    if (breaker.state, breaker.trials_left) != (BreakerState.HALF_OPEN, left):
        breaker.state, breaker.trials_left = BreakerState.HALF_OPEN, left
        breaker.save(update_fields=["state", "trials_left"])
    return 0


# --- Closing by hand ----------------------------------------------------------------------


@transaction.atomic
def breaker_close(*, breaker_id: int, note: str, reason_code: str, actor: Actor) -> Breaker:
    """Close a live breaker by hand: claims of its scope go on at once. Only for review leads
    (`warmup.close_breaker`); NotPermitted otherwise, NotFound for no such breaker,
    InvalidInput for a closed one or a missing reason code or note.

    Side effects: a ReviewLog row with the reason and note, a log line after commit."""
    if actor.user is None or not can_close_breakers(actor.user):
        raise NotPermitted(BREAKER_CLOSE_NOT_PERMITTED.format(user=actor.user or actor))
    reason_code, note = require_reason_code(reason_code), require_note(note)
    phase_id = Breaker.objects.filter(pk=breaker_id).values_list("phase_id", flat=True).first()
    if phase_id is None:
        raise NotFound(BREAKER_NOT_FOUND.format(breaker_id=breaker_id), breaker_id=breaker_id)
    phase = _log_phase(phase_id)
    breaker = Breaker.objects.select_for_update().get(pk=breaker_id)
    if breaker.closed_at is not None:
        raise InvalidInput(
            BREAKER_ALREADY_CLOSED.format(breaker_id=breaker_id), breaker_id=breaker_id
        )
    return _close(
        breaker, phase=phase, actor=actor, reason_code=reason_code, note=note, now=timezone.now()
    )


def _log_phase(phase_id: int) -> WarmupPhase:
    """The phase a breaker's rows are written on, locked (its chain's writers take turns)."""
    return (
        WarmupPhase.objects.select_for_update(of=("self",))
        .select_related("account")
        .get(pk=phase_id)
    )


def _close(
    breaker: Breaker,
    *,
    phase: WarmupPhase,
    actor: Actor,
    reason_code: str,
    note: str,
    now: datetime,
) -> Breaker:
    breaker.state = BreakerState.CLOSED
    breaker.closed_at = now
    breaker.closed_by = actor.user
    breaker.close_reason = reason_code
    breaker.close_note = note
    breaker.trials_left = 0
    breaker.save(
        update_fields=[
            "state",
            "closed_at",
            "closed_by",
            "close_reason",
            "close_note",
            "trials_left",
        ]
    )
    review_log.breaker_closed(
        breaker=breaker, phase=phase, actor=actor, reason_code=reason_code, note=note
    )
    _log_after_commit("breaker_closed", breaker, actor=str(actor), reason_code=reason_code)
    return breaker


# --- What the incident page shows ----------------------------------------------------------


def open_breakers() -> QuerySet[Breaker]:
    """The live breakers (open or half open), newest opening first, with their signature (key
    `signature_id`, `signature.title`) and bot: `scope`, `state`, `opened_at`,
    `cooldown_until`, `trials_left`, `openings`, `failures` and `attempts` on each."""
    return (
        Breaker.objects.filter(closed_at__isnull=True)
        .select_related("signature", "bot")
        .order_by("-opened_at", "-id")
    )
