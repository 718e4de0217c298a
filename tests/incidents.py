"""Incidents and breakers as the tests need them: items in review that failed the same way (one
failure signature), and a breaker opened the way a fleet behind a dead proxy opens one."""

from datetime import timedelta

from tests.factories import AccountFactory, BotFactory, WarmupPhaseFactory
from warmup.models import Breaker
from warmup.services.bot_work import phase_claim, phase_fail
from warmup.services.tick import tick

PROXY_REFUSED = "Proxy 10.0.{n}.1:{port} refused the connection"


def proxy_incident(bot, count: int, **kwargs) -> list:
    """`count` items in review that failed on a dead proxy pool, each with another address:
    one incident (one signature)."""
    return [
        WarmupPhaseFactory(
            in_review=True,
            bot=bot,
            category="proxy_error",
            retryable=False,
            reason=PROXY_REFUSED.format(n=n, port=8080),
            **kwargs,
        )
        for n in range(count)
    ]


def fail_on_the_proxy(phase, bot, n: int = 1, category: str = "proxy_error", **kwargs):
    """The bot's dead proxy refuses the connection (another address each time: one signature)."""
    return phase_fail(
        phase_id=phase.pk,
        bot=bot,
        lease_token=phase.lease_token,
        category=category,
        reason=PROXY_REFUSED.format(n=n, port=8000 + n),
        **kwargs,
    )


def claim_and_fail(
    bot,
    times: int,
    *,
    clock=None,
    every=timedelta(seconds=30),
    category="proxy_error",
    retryable=None,
    **narrowing,
):
    """`bot` claims and fails `times` phases (as long as it gets one), `every` apart;
    `retryable=False` sends each to review at once."""
    failed = []
    flags = {} if retryable is None else {"retryable": retryable}
    for n in range(times):
        phase = phase_claim(bot=bot, **narrowing)
        if phase is None:
            break
        fail_on_the_proxy(phase, bot, n, category, **flags)
        failed.append(phase)
        if clock is not None:
            clock.shift(every)
    return failed


def dead_proxy_breaker(settings, clock) -> Breaker:
    """Three bots behind one dead proxy fail six Instagram bios within minutes, each sent to
    review (the breaker on, six failures its threshold): the breaker opens on that scope."""
    settings.WARMUP_BREAKER = {**settings.WARMUP_BREAKER, "enabled": True, "min_failures": 6}
    for _ in range(8):
        AccountFactory(platform="instagram")
    tick()
    for bot in BotFactory.create_batch(3) * 2:
        claim_and_fail(bot, 1, clock=clock, retryable=False, platforms=["instagram"])
    return Breaker.objects.get()
