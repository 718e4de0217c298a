"""The breaker (issue 17): a signature failing past its threshold stops the claims of its scope,
a cool-down later a few trial claims decide whether it closes, and a review lead may close it
by hand. Both claim engines leave the blocked phases alone, and under 16 bots at once on
PostgreSQL not one slips through."""

from __future__ import annotations

from datetime import timedelta
from time import monotonic as now

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from reviews.models import ReviewLog
from tests.clients import bot_client, claim
from tests.conftest import requires_postgres
from tests.factories import AccountFactory, BotFactory, ContentItemFactory, UserFactory
from tests.incidents import claim_and_fail, fail_on_the_proxy
from tests.warmup.services.test_concurrency import errors_of, run_together
from tests.warmup.services.test_notifications import webhook  # noqa: F401 (a fixture)
from warmup.domain.actors import Actor
from warmup.domain.choices import BreakerState, ReasonCode, ReviewAction
from warmup.domain.errors import (
    BREAKER_ALREADY_CLOSED,
    BREAKER_CLOSE_NOT_PERMITTED,
    NOTE_REQUIRED,
    InvalidInput,
    NotPermitted,
)
from warmup.models import Breaker, PhaseStatus, WarmupPhase
from warmup.services import bot_statements, breaker
from warmup.services.bot_work import phase_claim, phase_complete, phase_fail
from warmup.services.breaker import TRIALS_PASSED, TURNED_OFF, breaker_close, open_breakers
from warmup.services.tick import tick

S = PhaseStatus
STEP = "profile_bio"  # the default plan's first step
COOLDOWN = timedelta(minutes=15)
RULES = {
    "enabled": True,
    "window": timedelta(minutes=10),
    "min_failures": 6,
    "min_rate": 0.5,
    "concentration": 0.8,
    "cooldown": COOLDOWN,
    "trial_claims": 2,
}


@pytest.fixture(autouse=True)
def rules(settings):
    settings.WARMUP_BREAKER = dict(RULES)
    return settings.WARMUP_BREAKER


@pytest.fixture
def fleet(content_pool):
    """Fifteen Instagram and fifteen TikTok accounts whose first step is ready to claim."""
    accounts = [AccountFactory(platform=p) for p in ("instagram", "tiktok") for _ in range(15)]
    tick()
    return accounts


def claim_and_complete(bot, times: int, **narrowing):
    done = []
    for _ in range(times):
        phase = phase_claim(bot=bot, **narrowing)
        if phase is None:
            break
        phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)
        done.append(phase)
    return done


def the_breaker() -> Breaker:
    return Breaker.objects.get()


# --- Opening ------------------------------------------------------------------------------


def test_a_bot_failing_on_its_dead_proxy_opens_a_breaker_on_that_bot_within_the_window(
    fleet, clock
):
    # given a healthy bot at work and a bot whose proxy died
    healthy, broken = BotFactory(), BotFactory()
    claim_and_complete(healthy, 3, platforms=["instagram"])

    # when the broken bot fails six claims of Instagram bios within three minutes
    failed = claim_and_fail(broken, 6, clock=clock, platforms=["instagram"])

    # then a breaker opened on its sixth failure, scoped to the step, the platform and the bot
    assert len(failed) == 6
    [shown] = open_breakers()
    assert shown.scope == {"phase_type": STEP, "platform": "instagram", "bot": broken.pk}
    assert (shown.state, shown.failures, shown.attempts) == (BreakerState.OPEN, 6, 6)
    assert shown.signature.title.startswith("proxy_error on profile_bio")
    # and the broken bot gets no Instagram bio any more, over the services and the API
    assert phase_claim(bot=broken, platforms=["instagram"]) is None
    assert claim(bot_client(broken), platforms=["instagram"]).status_code == 204
    # while the healthy bot goes on, and the broken one still gets other work
    assert phase_claim(bot=healthy, platforms=["instagram"]).phase_type == STEP
    assert phase_claim(bot=broken, platforms=["tiktok"]).platform == "tiktok"
    # and the opening is logged on the phase whose failure opened it
    row = ReviewLog.objects.get(action=ReviewAction.BREAKER_OPENED)
    assert (row.phase_id, row.signature_id) == (failed[-1].pk, shown.signature_id)
    assert row.data["scope"] == shown.scope
    assert "6 failures of 6 attempts" in row.note


def test_failures_spread_wider_than_the_window_open_nothing(fleet, clock):
    broken = BotFactory()

    claim_and_fail(broken, 8, clock=clock, every=timedelta(minutes=3), platforms=["instagram"])

    # at most four of them fall in any ten minutes
    assert not Breaker.objects.exists()
    assert phase_claim(bot=broken, platforms=["instagram"]) is not None


def test_failures_that_are_a_small_share_of_the_scopes_attempts_open_nothing(fleet, clock):
    # given a bot that completed seven Instagram bios
    bot = BotFactory()
    claim_and_complete(bot, 7, platforms=["instagram"])

    # when six of its next claims fail the same way: 6 of 13, under half
    claim_and_fail(bot, 6, clock=clock, platforms=["instagram"])

    # then nothing opened, and the bot still gets Instagram bios
    assert not Breaker.objects.exists()
    # until the failures are half of the scope's attempts in the window: 7 of 14
    claim_and_fail(bot, 1, clock=clock, platforms=["instagram"])
    assert (the_breaker().failures, the_breaker().attempts) == (7, 14)
    assert phase_claim(bot=bot, platforms=["instagram"]) is None


def test_the_whole_fleet_failing_on_one_platform_stops_that_platform_only(fleet, clock):
    # given several bots failing on Instagram, none with most of the failures
    bots = BotFactory.create_batch(3)
    for bot in bots * 2:
        claim_and_fail(bot, 1, clock=clock, platforms=["instagram"])

    # then the breaker covers the step on Instagram, for every bot
    assert the_breaker().scope == {"phase_type": STEP, "platform": "instagram", "bot": None}
    fresh = BotFactory()
    assert phase_claim(bot=fresh, platforms=["instagram"]) is None
    # and a claim of any platform skips the Instagram bios (older) for the TikTok ones
    handed = []
    while (phase := phase_claim(bot=fresh)) is not None:
        handed.append((phase.platform, phase.phase_type))
    assert handed == [("tiktok", STEP)] * 15


def test_one_notification_per_opening_by_mail_and_webhook(
    fleet,
    clock,
    settings,
    django_capture_on_commit_callbacks,
    webhook,  # noqa: F811
):
    url, received = webhook
    settings.WARMUP_ESCALATION_WEBHOOK_URL = url
    UserFactory(reviewer=True, email="rita@example.com")
    bots = BotFactory.create_batch(3)

    with django_capture_on_commit_callbacks(execute=True):
        for bot in bots * 3:  # nine failures: the breaker opens on the sixth
            claim_and_fail(bot, 1, clock=clock, platforms=["instagram"])

    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == (
        "[warmup] breaker open: claims of plan step profile_bio on instagram stopped"
    )
    assert mail.outbox[0].to == ["rita@example.com"]
    assert [body["event"] for body in received] == ["breaker.opened"]
    assert received[0]["breaker"]["scope"]["platform"] == "instagram"
    assert received[0]["breaker"]["signature"] == the_breaker().signature_id


# --- Half open, closed after its trials, or reopened ---------------------------------------


@pytest.fixture
def opened(fleet, clock):
    """A breaker open on Instagram bios, for every bot: the fleet's bots behind one proxy."""
    bots = BotFactory.create_batch(3)
    for bot in bots * 2:
        claim_and_fail(bot, 1, clock=clock, platforms=["instagram"])
    assert the_breaker().state == BreakerState.OPEN
    return the_breaker()


def test_after_the_cool_down_two_trial_claims_that_complete_close_it(opened, clock):
    bot = BotFactory()
    # given the cool-down is over (the failed phases' retries are due too)
    clock.shift(COOLDOWN)
    tick()
    assert (the_breaker().state, the_breaker().trials_left) == (BreakerState.HALF_OPEN, 2)

    # when two trial claims go through, and no third one while they run
    trials = [phase_claim(bot=bot, platforms=["instagram"]) for bot in BotFactory.create_batch(2)]
    assert all(trial is not None for trial in trials)
    assert phase_claim(bot=bot, platforms=["instagram"]) is None
    for trial in trials:
        phase_complete(phase_id=trial.pk, bot=trial.bot, lease_token=trial.lease_token)
    tick()

    # then the breaker closed, logged by the system, and Instagram bios flow again
    breaker = the_breaker()
    assert (breaker.state, breaker.closed_by) == (BreakerState.CLOSED, None)
    row = ReviewLog.objects.get(action=ReviewAction.BREAKER_CLOSED)
    assert (row.actor_type, row.note) == ("system", TRIALS_PASSED.format(count=2))
    assert list(open_breakers()) == []
    assert phase_claim(bot=bot, platforms=["instagram"]) is not None


def test_a_trial_that_fails_the_same_way_reopens_it_for_another_cool_down(
    opened, clock, django_capture_on_commit_callbacks
):
    UserFactory(reviewer=True, email="rita@example.com")
    clock.shift(COOLDOWN)
    tick()
    bot = BotFactory()

    with django_capture_on_commit_callbacks(execute=True):
        trial = phase_claim(bot=bot, platforms=["instagram"])
        fail_on_the_proxy(trial, bot, 99)

    breaker = the_breaker()
    assert (breaker.state, breaker.openings) == (BreakerState.OPEN, 2)
    assert breaker.cooldown_until == timezone.now() + COOLDOWN
    assert phase_claim(bot=bot, platforms=["instagram"]) is None
    reopened = ReviewLog.objects.filter(action=ReviewAction.BREAKER_OPENED).order_by("id").last()
    assert (reopened.phase_id, reopened.data["reopened"]) == (trial.pk, True)
    assert mail.outbox == []  # the reviewers heard of it when it first opened
    # and the next cool-down gives it another trial
    clock.shift(COOLDOWN)
    tick()
    assert phase_claim(bot=bot, platforms=["instagram"]) is not None


def test_a_trial_ending_another_way_is_given_back(opened, clock):
    clock.shift(COOLDOWN)
    tick()
    bot = BotFactory()
    trial = phase_claim(bot=bot, platforms=["instagram"])
    phase_fail(
        phase_id=trial.pk,
        bot=bot,
        lease_token=trial.lease_token,
        category="bot_error",
        reason="crashed",
    )
    assert the_breaker().trials_left == 1

    tick()

    assert (the_breaker().state, the_breaker().trials_left) == (BreakerState.HALF_OPEN, 2)


# --- Closing by hand, the off switch --------------------------------------------------------


def test_a_review_lead_closes_it_by_hand_with_a_reason_and_a_note(opened):
    lead = UserFactory(lead=True)

    breaker_close(
        breaker_id=opened.pk,
        reason_code=ReasonCode.REPLACED_PROXY,
        note="Proxy pool swapped",
        actor=Actor.for_user(lead),
    )

    breaker = the_breaker()
    assert (breaker.state, breaker.closed_by, breaker.close_note) == (
        BreakerState.CLOSED,
        lead,
        "Proxy pool swapped",
    )
    row = ReviewLog.objects.get(action=ReviewAction.BREAKER_CLOSED)
    assert (row.actor_user, row.reason_code, row.note) == (
        lead,
        ReasonCode.REPLACED_PROXY,
        "Proxy pool swapped",
    )
    assert row.data["breaker"] == breaker.pk
    assert phase_claim(bot=BotFactory(), platforms=["instagram"]) is not None
    with pytest.raises(InvalidInput, match=BREAKER_ALREADY_CLOSED.format(breaker_id=breaker.pk)):
        breaker_close(
            breaker_id=opened.pk, reason_code="other", note="again", actor=Actor.for_user(lead)
        )


def test_closing_needs_a_review_lead_a_reason_and_a_note(opened):
    reviewer = UserFactory(reviewer=True)
    with pytest.raises(NotPermitted) as refused:
        breaker_close(
            breaker_id=opened.pk, reason_code="other", note="x", actor=Actor.for_user(reviewer)
        )
    assert str(refused.value) == BREAKER_CLOSE_NOT_PERMITTED.format(user=reviewer)
    lead = Actor.for_user(UserFactory(lead=True))
    with pytest.raises(InvalidInput, match=NOTE_REQUIRED):
        breaker_close(breaker_id=opened.pk, reason_code="other", note=" ", actor=lead)
    with pytest.raises(InvalidInput):
        breaker_close(breaker_id=opened.pk, reason_code="", note="fixed", actor=lead)
    assert the_breaker().state == BreakerState.OPEN
    assert not ReviewLog.objects.filter(action=ReviewAction.BREAKER_CLOSED).exists()


def test_turned_off_no_breaker_opens_and_the_next_tick_closes_an_open_one(opened, rules, clock):
    rules["enabled"] = False
    claim_and_fail(BotFactory(), 6, clock=clock, platforms=["tiktok"])
    assert Breaker.objects.count() == 1  # none opened on TikTok

    tick()

    assert the_breaker().state == BreakerState.CLOSED
    assert ReviewLog.objects.get(action=ReviewAction.BREAKER_CLOSED).note == TURNED_OFF
    assert phase_claim(bot=BotFactory(), platforms=["instagram"]) is not None


# --- Both claim engines (PostgreSQL) ---------------------------------------------------------


class _RolledBack(Exception):
    pass


def _claims(bots) -> list:
    """Claims of each bot, unnarrowed and narrowed, until nothing is left: what each got, then
    the breakers' trials left."""
    got = []
    for bot in bots:
        for narrowing in ({"platforms": ["instagram"]}, {"phase_types": [STEP]}, {}):
            for _ in range(4):
                phase = phase_claim(bot=bot, **narrowing)
                got.append(None if phase is None else (bot.pk, phase.pk, phase.platform))
    got.append(list(Breaker.objects.order_by("pk").values_list("trials_left", flat=True)))
    return got


@requires_postgres
def test_the_orm_and_the_one_statement_claims_hand_out_the_same_phases(fleet, clock, monkeypatch):
    # given a breaker open on TikTok bios for one bot, one on Instagram bios for every bot,
    # half open with one trial left
    bots = BotFactory.create_batch(3)
    claim_and_fail(bots[0], 6, clock=clock, platforms=["tiktok"])
    for bot in bots[1:] * 3:
        claim_and_fail(bot, 1, clock=clock, category="network_error", platforms=["instagram"])
    tiktok, instagram = Breaker.objects.order_by("pk")
    assert (tiktok.platform, tiktok.bot_id) == ("tiktok", bots[0].pk)
    assert (instagram.platform, instagram.bot_id) == ("instagram", None)
    Breaker.objects.filter(pk=instagram.pk).update(
        cooldown_until=timezone.now(), trials_left=1, state=BreakerState.HALF_OPEN
    )
    start = timezone.now() + timedelta(minutes=1)

    # when the same claims run through each engine
    runs = []
    for one_statement in (True, False):
        clock.move_to(start)
        with monkeypatch.context() as patch:
            patch.setattr(bot_statements, "available", lambda one=one_statement: one)
            try:
                with transaction.atomic():
                    runs.append(_claims(bots))
                    raise _RolledBack
            except _RolledBack:
                pass

    # then they handed out the same phases and took the same trial
    assert runs[0] == runs[1]
    handed = [claim for claim in runs[0][:-1] if claim is not None]
    assert sum(1 for _, _, platform in handed if platform == "instagram") == 1  # the one trial
    assert not [claim for claim in handed if claim[0] == bots[0].pk and claim[2] == "tiktok"]
    assert sum(1 for claim in handed if claim[2] == "tiktok") > 0  # the other bots' TikTok
    assert runs[0][-1] == [tiktok.trials_left, 0]


# --- 16 bots at once (PostgreSQL, real threads) ------------------------------------------


def _claim_until_empty(bot):
    def work():
        got = []
        while (phase := phase_claim(bot=bot)) is not None:
            got.append((phase.pk, phase.platform, phase.phase_type))
        return got

    return work


@pytest.mark.parametrize("one_statement", [True, False], ids=["one statement", "orm"])
@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("default_plan")
def test_sixteen_bots_at_once_never_get_a_blocked_phase_and_exactly_the_trials(
    one_statement, monkeypatch
):
    monkeypatch.setattr(bot_statements, "available", lambda: one_statement)
    ContentItemFactory.create_batch(3, phase_type=STEP)
    for platform in ("instagram", "tiktok", "x"):
        AccountFactory.create_batch(30, platform=platform)
    tick()
    failing = BotFactory.create_batch(3)
    for bot in failing * 2:  # a breaker on Instagram bios, for every bot
        claim_and_fail(bot, 1, platforms=["instagram"])
    [instagram] = Breaker.objects.all()
    # and on X bios (failing another way), half open with three trial claims
    for bot in failing * 2:
        claim_and_fail(bot, 1, category="network_error", platforms=["x"])
    half_open = Breaker.objects.get(platform="x")
    Breaker.objects.filter(pk=half_open.pk).update(
        cooldown_until=timezone.now() - timedelta(seconds=1),
        trials_left=3,
        state=BreakerState.HALF_OPEN,
    )
    bots = BotFactory.create_batch(16)

    outcomes = run_together(*(_claim_until_empty(bot) for bot in bots))

    assert errors_of(outcomes) == []
    handed = [claim for got, _ in outcomes for claim in got]
    by_platform = {
        name: sum(1 for _, platform, _ in handed if platform == name)
        for name in ("instagram", "tiktok", "x")
    }
    assert by_platform == {"instagram": 0, "tiktok": 30, "x": 3}
    assert len({pk for pk, _, _ in handed}) == len(handed)
    assert Breaker.objects.get(pk=half_open.pk).trials_left == 0
    assert Breaker.objects.get(pk=instagram.pk).state == BreakerState.OPEN
    blocked = WarmupPhase.objects.filter(platform="instagram", phase_type=STEP)
    assert not blocked.filter(status=S.IN_PROGRESS).exists()
    connection.close()


@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("default_plan")
def test_sixteen_bots_failing_at_once_get_nothing_of_the_scope_once_the_breaker_opened(
    monkeypatch,
):
    # given 80 Instagram bios ready, and the moment the breaker's opening commits recorded
    ContentItemFactory.create_batch(3, phase_type=STEP)
    AccountFactory.create_batch(80, platform="instagram")
    tick()
    committed = []
    monkeypatch.setattr(breaker, "notify_breaker_opened", lambda pk: committed.append(now()))

    # when 16 bots behind one dead proxy claim and fail as fast as they can
    def claim_and_fail_until_refused(bot):
        def work():
            claims = []
            for n in range(10):
                started = now()
                phase = phase_claim(bot=bot, platforms=["instagram"])
                claims.append((started, phase is not None))
                if phase is None:
                    break
                fail_on_the_proxy(phase, bot, n)
            return claims

        return work

    outcomes = run_together(*(claim_and_fail_until_refused(b) for b in BotFactory.create_batch(16)))

    # then the breaker opened once, and no claim begun after its opening got a phase
    assert errors_of(outcomes) == []
    assert Breaker.objects.get().platform == "instagram"
    [opened_at] = committed
    claims = [claim for got, _ in outcomes for claim in got]
    after = [handed for started, handed in claims if started > opened_at]
    assert after and not any(after)
    assert sum(1 for _, handed in claims if handed) < 80
