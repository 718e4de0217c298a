"""Run simulated bots against a running server's bot API, so the pipeline moves and the review
queue fills: `manage.py simulate_bots --url http://127.0.0.1:8000 --bots 3 --duration 60`.

Simulated bots fake their work, so they claim only phases of plans marked for simulation (the
demo's fast plan by default; another plan only with --allow-real-plan), and they are bots of
their own: a bot of the same name that simulate_bots did not make is never touched."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError

from tools.demo import FAST_PLAN
from tools.simulator import (
    DEFAULT_MIX_SPEC,
    MUST_BE_POSITIVE,
    Simulation,
    SimulationConfig,
    SimulatorConfigError,
    format_progress,
    format_summary,
    parse_mix,
)
from warmup.domain.errors import (
    SIMULATION_BOT_NOT_OURS,
    SIMULATION_ON_REAL_PLAN,
    SIMULATION_PLAN_MISSING,
    SIMULATION_PLAN_REAL,
    DomainError,
)
from warmup.models import Bot, FailureCategory, WarmupPlan
from warmup.services.bots import bot_create, bot_rotate_token

BOT_INACTIVE = (
    "Bot {name!r} is deactivated, so the API would refuse it; choose another --prefix "
    "(or reactivate the bot)."
)
BAD_PREFIX = "--prefix must not be blank."
DEFAULT_PREFIX = "simulated-bot"

TTY_REFRESH = 0.5  # seconds between rewrites of the progress line on a terminal
LOG_EVERY = 5.0  # seconds between progress lines when stdout is not a terminal


class Command(BaseCommand):
    help = (
        "Run N simulated bots against the bot API of a running server: each claims phases, "
        "heartbeats, thinks, then reports success or a failure drawn from --mix (some hang to "
        "exercise lease expiry). They claim only phases of the --plan plans, which must be "
        "marked for simulation (or --allow-real-plan). Bots named PREFIX-1..N are created, or, "
        "if simulate_bots made them, reused with a new token (their old token stops working). "
        "Runs for --duration seconds, or --cycles claims per bot, whichever comes first; with "
        "neither, until Ctrl-C. Prints live progress and a summary."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="Server base URL (default: http://127.0.0.1:8000).",
        )
        parser.add_argument(
            "--bots", type=int, default=3, metavar="N", help="How many bots (default: 3)."
        )
        parser.add_argument(
            "--duration", type=float, metavar="SECONDS", help="Stop after this many seconds."
        )
        parser.add_argument("--cycles", type=int, metavar="N", help="Stop each bot after N claims.")
        parser.add_argument(
            "--fail-rate",
            type=float,
            default=0.25,
            metavar="F",
            help="Share of claimed phases reported as failed, 0..1 (default: 0.25).",
        )
        parser.add_argument(
            "--mix",
            default=DEFAULT_MIX_SPEC,
            metavar="SPEC",
            help=f"Failure categories and their weights (default: {DEFAULT_MIX_SPEC}).",
        )
        parser.add_argument(
            "--hang-rate",
            type=float,
            default=0.0,
            metavar="H",
            help="Share of claims never reported, so their lease expires, 0..1 (default: 0).",
        )
        parser.add_argument(
            "--nonretryable-rate",
            type=float,
            default=0.1,
            metavar="R",
            help="Share of failures reported with retryable=false, 0..1 (default: 0.1).",
        )
        parser.add_argument(
            "--think",
            type=float,
            default=0.5,
            metavar="SECONDS",
            help="Time a bot works on a claimed phase, jittered +/-50%% (default: 0.5).",
        )
        parser.add_argument(
            "--plan",
            action="append",
            dest="plans",
            metavar="SLUG",
            help="Claim only phases of this plan; repeat for several (default: the demo's "
            f"{FAST_PLAN!r}). Each must be marked for simulation, unless --allow-real-plan.",
        )
        parser.add_argument(
            "--allow-real-plan",
            action="store_true",
            help="Run on a --plan not marked for simulation: its accounts' phases are "
            "fake-completed. Only for a database without real accounts on that plan.",
        )
        parser.add_argument(
            "--prefix",
            default=DEFAULT_PREFIX,
            help=f"Bots are named PREFIX-1..PREFIX-N (default: {DEFAULT_PREFIX}).",
        )
        parser.add_argument(
            "--seed", type=int, help="Seed the bots' decisions, for a repeatable run."
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=10.0,
            metavar="SECONDS",
            help="HTTP timeout per request (default: 10).",
        )
        parser.add_argument(
            "--outage-every",
            type=float,
            metavar="SECONDS",
            help="Simulate a proxy outage in every period of SECONDS since the start: during "
            "its last --outage-length seconds every claimed phase fails with proxy_error "
            "(default: never).",
        )
        parser.add_argument(
            "--outage-length",
            type=float,
            default=60.0,
            metavar="SECONDS",
            help="How long each simulated proxy outage lasts (default: 60).",
        )
        parser.add_argument(
            "--progress-every",
            type=float,
            metavar="SECONDS",
            help="Print a new progress line every SECONDS instead of rewriting one line (for a "
            "terminal shared with other output). Default: rewrite the line on a terminal, "
            f"otherwise a line every {LOG_EVERY:g} s.",
        )
        parser.add_argument(
            "--quiet", action="store_true", help="No progress line; only the summary."
        )

    def handle(self, *args, **options):
        self.quiet = options["quiet"]
        config = self.parse(options)
        self.check_plans(config.plans, allow_real=options["allow_real_plan"])
        try:
            bots = self.resolve_bots(options["prefix"], options["bots"])
        except KeyboardInterrupt:
            self.stderr.write("Interrupted before the bots started.")
            return
        simulation = Simulation(bots=bots, config=config)
        limit = self.describe_limit(config)
        plans = ", ".join(config.plans)
        self.notice(f"Simulating {len(bots)} bots against {config.url} on {plans} {limit}.")
        every = options["progress_every"]
        rewrite = every is None and self._isatty()
        interval = every or (TTY_REFRESH if rewrite else LOG_EVERY)
        on_progress = None if self.quiet else self.progress_printer(rewrite)
        with stop_on_sigterm(simulation):
            result = simulation.run(on_progress=on_progress, interval=interval)
        if on_progress is not None and rewrite:
            self.stdout.write("")  # end the rewritten progress line
        self.stdout.write(format_summary(result, bots=len(bots), url=config.url))

    # -- parse and resolve --

    def parse(self, options) -> SimulationConfig:
        if options["bots"] < 1:
            raise CommandError(MUST_BE_POSITIVE.format(name="--bots", value=options["bots"]))
        every = options["progress_every"]
        if every is not None and not every > 0:
            raise CommandError(MUST_BE_POSITIVE.format(name="--progress-every", value=every))
        if not (options["prefix"] or "").strip():
            raise CommandError(BAD_PREFIX)
        try:
            return SimulationConfig(
                url=options["url"],
                fail_rate=options["fail_rate"],
                mix=parse_mix(options["mix"], categories=FailureCategory.values),
                hang_rate=options["hang_rate"],
                nonretryable_rate=options["nonretryable_rate"],
                think=options["think"],
                duration=options["duration"],
                cycles=options["cycles"],
                seed=options["seed"],
                timeout=options["timeout"],
                plans=tuple(dict.fromkeys(options["plans"] or [FAST_PLAN])),
                outage_every=options["outage_every"],
                outage_length=options["outage_length"],
            )
        except SimulatorConfigError as exc:
            raise CommandError(str(exc)) from None

    def check_plans(self, slugs: tuple[str, ...], *, allow_real: bool) -> None:
        """Every plan exists, and is marked for simulation unless the operator allowed a real
        one (then a warning says so)."""
        plans = {plan.slug: plan for plan in WarmupPlan.objects.filter(slug__in=slugs)}
        for slug in slugs:
            if slug not in plans:
                raise CommandError(SIMULATION_PLAN_MISSING.format(slug=slug, demo=FAST_PLAN))
            if not plans[slug].is_simulation:
                if not allow_real:
                    raise CommandError(SIMULATION_PLAN_REAL.format(slug=slug))
                self.stderr.write(SIMULATION_ON_REAL_PLAN.format(slug=slug))

    def resolve_bots(self, prefix: str, count: int) -> list[tuple[str, str]]:
        """Create PREFIX-1..N, or give the ones simulate_bots made before a new token (the only
        way to learn one); any other bot of those names is refused, never touched."""
        prefix = prefix.strip()
        names = [f"{prefix}-{number}" for number in range(1, count + 1)]
        existing = {bot.name: bot for bot in Bot.objects.filter(name__in=names)}
        for name, bot in existing.items():
            if not bot.is_simulated:
                raise CommandError(SIMULATION_BOT_NOT_OURS.format(name=name))
            if not bot.is_active:
                raise CommandError(BOT_INACTIVE.format(name=name))
        bots, created = [], 0
        try:
            for name in names:
                if name in existing:
                    _, token = bot_rotate_token(name=name)
                else:
                    _, token = bot_create(name=name, simulated=True)
                    created += 1
                bots.append((name, token))
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if created:
            self.notice(f"Created {created} bot(s) named {prefix}-N.")
        if len(existing):
            self.notice(f"Reusing {len(existing)} bot(s) with new tokens.")
        return bots

    @staticmethod
    def describe_limit(config: SimulationConfig) -> str:
        parts = []
        if config.cycles is not None:
            parts.append(f"{config.cycles} claims per bot")
        if config.duration is not None:
            parts.append(f"{config.duration:g} s")
        return f"for {' or '.join(parts)} (Ctrl-C stops)" if parts else "until Ctrl-C"

    # -- output --

    def notice(self, message: str) -> None:
        if not self.quiet:
            self.stdout.write(message)

    def _isatty(self) -> bool:
        try:
            return bool(self.stdout.isatty())
        except (AttributeError, ValueError):
            return False

    def progress_printer(self, rewrite: bool):
        def show(stats: dict, elapsed: float) -> None:
            line = format_progress(stats, elapsed)
            if rewrite:
                self.stdout.write(f"\r{line}\033[K", ending="")
                self.stdout.flush()
            else:
                self.stdout.write(line)
                self.stdout.flush()

        return show


@contextmanager
def stop_on_sigterm(simulation: Simulation):
    """While running, SIGTERM (e.g. from a supervising `run_demo`) stops the bots cleanly, like
    Ctrl-C. Only the main thread may install signal handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: simulation.stop("terminated"))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
