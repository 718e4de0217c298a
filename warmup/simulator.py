"""Simulated bots: HTTP clients of the bot API that claim phases, heartbeat and report outcomes.

A simulated bot knows the system only through `/api/v1/bot/`, exactly as a real bot does: it never
reads or writes a phase through the ORM. Decisions (complete, fail with which category, hang)
come from a per-bot random generator, so a run with `seed` makes the same decisions every time.
Used by `manage.py simulate_bots` and by `make demo`.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

from warmup.models import FailureCategory

# --- Options ---------------------------------------------------------------------------

DEFAULT_MIX_SPEC = (
    "network_error=4,rate_limited=2,challenge_required=1,proxy_error=2,bot_error=1,"
    "content_rejected=1,login_failed=1"
)

MIX_EMPTY = "The failure mix is empty; give CATEGORY=WEIGHT pairs, e.g. {example}."
MIX_BAD_PAIR = "Bad failure mix entry {entry!r}; expected CATEGORY=WEIGHT, e.g. network_error=4."
MIX_UNKNOWN_CATEGORY = (
    "Unknown failure category {value!r} in the mix; valid categories are: {choices}."
)
MIX_BAD_WEIGHT = "Bad weight {value!r} for {category}; a weight is a number >= 0."
MIX_DUPLICATE = "Failure category {category} appears twice in the mix."
MIX_ALL_ZERO = "Every weight in the failure mix is zero; give at least one a positive weight."
RATE_OUT_OF_RANGE = "{name} must be between 0 and 1 (got {value})."
MUST_BE_POSITIVE = "{name} must be a positive number (got {value})."
MUST_NOT_BE_NEGATIVE = "{name} must not be negative (got {value})."
BAD_URL = "The server URL must start with http:// or https:// (got {value!r})."

IDLE_BACKOFF_START = 0.5  # seconds to wait after a 204, doubling while nothing is ready
IDLE_BACKOFF_MAX = 4.0
CONNECTION_PAUSE = 1.0  # seconds between tries while the server is unreachable
CONNECTION_PAUSE_MAX = 5.0
ERROR_PAUSE = 1.0  # after an unexpected HTTP error, so a broken server is not hammered
RETRY_AFTER_DEFAULT = 1.0  # a 429 without a usable Retry-After header
RETRY_AFTER_MIN = 0.2  # "Retry-After: 0" must not turn into a busy loop
REPORT_TRIES = 5  # tries to deliver one report (connection errors, 429) before giving up


class SimulatorConfigError(ValueError):
    """An invalid simulator option; the message says which and why."""


def parse_mix(spec: str) -> dict[str, float]:
    """Parse 'network_error=4,rate_limited=2' into {category: weight} (or SimulatorConfigError)."""
    entries = [entry.strip() for entry in (spec or "").split(",") if entry.strip()]
    if not entries:
        raise SimulatorConfigError(MIX_EMPTY.format(example=DEFAULT_MIX_SPEC))
    mix: dict[str, float] = {}
    for entry in entries:
        category, sep, weight_text = (part.strip() for part in entry.partition("="))
        if not sep or not category:
            raise SimulatorConfigError(MIX_BAD_PAIR.format(entry=entry))
        if category not in FailureCategory.values:
            raise SimulatorConfigError(
                MIX_UNKNOWN_CATEGORY.format(
                    value=category, choices=", ".join(FailureCategory.values)
                )
            )
        if category in mix:
            raise SimulatorConfigError(MIX_DUPLICATE.format(category=category))
        try:
            weight = float(weight_text)
        except ValueError:
            weight = -1.0
        if not weight >= 0 or weight == float("inf"):  # also rejects nan
            raise SimulatorConfigError(MIX_BAD_WEIGHT.format(value=weight_text, category=category))
        mix[category] = weight
    if not any(mix.values()):
        raise SimulatorConfigError(MIX_ALL_ZERO)
    return mix


@dataclass(frozen=True)
class SimulationConfig:
    """How simulated bots behave. `cycles` counts claims per bot; None means no limit."""

    url: str
    fail_rate: float = 0.25
    mix: dict[str, float] = field(default_factory=lambda: parse_mix(DEFAULT_MIX_SPEC))
    hang_rate: float = 0.0
    nonretryable_rate: float = 0.1
    think: float = 0.5
    duration: float | None = None
    cycles: int | None = None
    seed: int | None = None
    timeout: float = 10.0

    def __post_init__(self):
        if not self.url.startswith(("http://", "https://")):
            raise SimulatorConfigError(BAD_URL.format(value=self.url))
        object.__setattr__(self, "url", self.url.rstrip("/"))
        for name in ("fail_rate", "hang_rate", "nonretryable_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise SimulatorConfigError(RATE_OUT_OF_RANGE.format(name=_opt(name), value=value))
        if not self.think >= 0:
            raise SimulatorConfigError(
                MUST_NOT_BE_NEGATIVE.format(name="--think", value=self.think)
            )
        if self.duration is not None and not self.duration > 0:
            raise SimulatorConfigError(
                MUST_BE_POSITIVE.format(name="--duration", value=self.duration)
            )
        if self.cycles is not None and self.cycles < 1:
            raise SimulatorConfigError(MUST_BE_POSITIVE.format(name="--cycles", value=self.cycles))
        if not self.timeout > 0:
            raise SimulatorConfigError(
                MUST_BE_POSITIVE.format(name="--timeout", value=self.timeout)
            )

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1/bot"


def _opt(name: str) -> str:
    return "--" + name.replace("_", "-")


# --- Shared counters -------------------------------------------------------------------


class Stats:
    """Counters every bot thread adds to; `snapshot()` reads them consistently."""

    FIELDS = (
        "claims",
        "completions",
        "failures",
        "escalations",
        "retries",
        "hangs",
        "heartbeats",
        "lease_lost",
        "throttled",
        "errors",
        "connection_errors",
        "idle",
        "abandoned",
    )

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = Counter({name: 0 for name in self.FIELDS})
        self._failures_by_category: Counter[str] = Counter()
        self._errors_by_kind: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def failure(self, category: str, *, escalated: bool) -> None:
        with self._lock:
            self._counts["failures"] += 1
            self._counts["escalations" if escalated else "retries"] += 1
            self._failures_by_category[category] += 1

    def error(self, kind: str) -> None:
        with self._lock:
            self._counts["errors"] += 1
            self._errors_by_kind[kind] += 1

    def snapshot(self) -> dict:
        with self._lock:
            data = dict(self._counts)
            data["failures_by_category"] = dict(self._failures_by_category.most_common())
            data["errors_by_kind"] = dict(self._errors_by_kind.most_common())
            return data


# --- What a simulated bot says when it fails -------------------------------------------

FAILURE_STORIES: dict[str, list[tuple[str, dict]]] = {
    "login_failed": [
        ("Login rejected: the password was not accepted", {"step": "login", "http_status": 400}),
        ("Two-factor code expected but none configured", {"step": "login", "2fa": "totp"}),
    ],
    "challenge_required": [
        ("Checkpoint: the platform asks for an SMS code", {"step": "login", "challenge": "sms"}),
        ("Captcha shown after login", {"step": "login", "challenge": "captcha"}),
    ],
    "rate_limited": [
        ("429 Too Many Requests from the platform", {"step": "action", "retry_after": 900}),
        ("Please wait a few minutes before you try again", {"step": "action"}),
    ],
    "action_blocked": [
        ("Action blocked: this action was blocked, try again later", {"step": "action"}),
    ],
    "account_suspended": [
        ("Account disabled for violating the terms", {"step": "login"}),
    ],
    "content_rejected": [
        ("Upload refused: the media did not pass review", {"step": "upload", "media": "image"}),
        ("Caption rejected: contains a banned word", {"step": "caption"}),
    ],
    "proxy_error": [
        ("Proxy CONNECT failed: 407 Proxy Authentication Required", {"proxy": "pool-eu-3"}),
        ("Proxy timed out after 30 s", {"proxy": "pool-us-1", "timeout_s": 30}),
    ],
    "network_error": [
        ("Connection reset by peer while uploading", {"step": "upload", "errno": 104}),
        ("TLS handshake timed out", {"step": "connect", "timeout_s": 15}),
        ("502 Bad Gateway from the platform", {"step": "action", "http_status": 502}),
    ],
    "lease_expired": [("The bot lost track of time", {})],
    "bot_error": [
        (
            "Unhandled exception: element not found: #submit",
            {"step": "action", "selector": "#submit"},
        ),
        ("Browser crashed (out of memory)", {"step": "browser"}),
    ],
    "unknown": [("Something went wrong; no more detail available", {})],
}


# --- One simulated bot -----------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the bot decided to do with one claimed phase (drawn in a fixed order)."""

    hang: bool
    heartbeats: int
    fail_category: str | None
    retryable: bool
    story: tuple[str, dict]


class _Stopped(Exception):
    """Raised inside a bot's loop when it should stop waiting."""


class SimulatedBot:
    """One bot's loop: claim, maybe heartbeat, think, report complete or fail; one per thread."""

    def __init__(
        self,
        *,
        name: str,
        token: str,
        config: SimulationConfig,
        stats: Stats,
        stop: threading.Event,
        index: int = 0,
    ):
        self.name = name
        self.config = config
        self.stats = stats
        self.stop = stop
        self.claims = 0
        self.fatal: str | None = None
        self._failed_connections = 0
        # Decisions come from their own generator, never drawn from by timing-dependent code,
        # so a seeded run makes the same decisions whatever the server's speed.
        seed = None if config.seed is None else f"{config.seed}:{index}"
        self.decisions = random.Random(seed)
        self.timing = random.Random(seed and f"{seed}:timing")
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "User-Agent": f"warmup-simulator/{name}"}
        )

    # -- the loop --

    def run(self) -> None:
        idle_wait = IDLE_BACKOFF_START
        try:
            while not self._done():
                response = self._post("phases/claim/", {})
                if response is None:
                    continue  # unreachable: counted and paused in _post
                if response.status_code == 204:
                    self.stats.add("idle")
                    self._wait(idle_wait)
                    idle_wait = min(IDLE_BACKOFF_MAX, idle_wait * 2)
                    continue
                if response.status_code != 200:
                    self._unexpected(response)
                    continue
                idle_wait = IDLE_BACKOFF_START
                phase = _json(response)
                self.claims += 1
                self.stats.add("claims")
                self._work(phase)
        except _Stopped:
            pass
        except Exception as exc:  # a bug here stops this bot, visibly, not with a thread dump
            self.stats.error(f"simulator crash {type(exc).__name__}")
            self.fatal = f"{self.name}: crashed: {exc!r}"
        finally:
            self.session.close()

    def _done(self) -> bool:
        if self.fatal or self.stop.is_set():
            return True
        return self.config.cycles is not None and self.claims >= self.config.cycles

    def plan(self) -> Plan:
        rng, config = self.decisions, self.config
        hang = rng.random() < config.hang_rate
        heartbeats = rng.choice((0, 1, 1, 2))
        fails = rng.random() < config.fail_rate
        categories, weights = zip(*config.mix.items(), strict=True)
        category = rng.choices(categories, weights=weights)[0]
        retryable = rng.random() >= config.nonretryable_rate
        story = rng.choice(FAILURE_STORIES.get(category) or FAILURE_STORIES["unknown"])
        return Plan(
            hang=hang,
            heartbeats=heartbeats,
            fail_category=category if fails else None,
            retryable=retryable,
            story=story,
        )

    def _work(self, phase: dict) -> None:
        plan = self.plan()
        phase_id, lease_token = phase.get("id"), phase.get("lease_token")
        if phase_id is None or not lease_token:
            self.stats.error("200 claim without id or lease_token")
            return
        if plan.hang:
            # Claim and never report: the scheduler must expire the lease.
            self.stats.add("hangs")
            return
        base = f"phases/{phase_id}/"
        lease = {"lease_token": lease_token}
        for _ in range(plan.heartbeats):
            self._think(self.config.think / (plan.heartbeats + 1))
            if self.stop.is_set():
                break  # stopping: report at once instead
            response = self._report(base + "heartbeat/", lease)
            if response is None:
                return
            if response.status_code != 200:
                self._unexpected(response)
                return
            self.stats.add("heartbeats")
        self._think(self.config.think / (plan.heartbeats + 1))

        if plan.fail_category is None:
            body = {**lease, "result": {"simulated": True, "bot": self.name}}
            response = self._report(base + "complete/", body)
            if response is not None and response.status_code == 200:
                self.stats.add("completions")
            elif response is not None:
                self._unexpected(response)
            return

        reason, details = plan.story
        body = {
            **lease,
            "category": plan.fail_category,
            "reason": reason,
            "details": {**details, "simulated": True, "bot": self.name},
            "retryable": plan.retryable,
        }
        response = self._report(base + "fail/", body)
        if response is not None and response.status_code == 200:
            escalated = _json(response).get("outcome") == "review_required"
            self.stats.failure(plan.fail_category, escalated=escalated)
        elif response is not None:
            self._unexpected(response)

    # -- HTTP --

    def _post(self, path: str, body: dict) -> requests.Response | None:
        """One request; a connection error is counted and paused on, then None is returned."""
        try:
            response = self.session.post(
                f"{self.config.api}/{path}", json=body, timeout=self.config.timeout
            )
        except requests.RequestException:
            self.stats.add("connection_errors")
            self._wait(self._connection_pause())
            return None
        self._failed_connections = 0
        if response.status_code == 429:
            self.stats.add("throttled")
            self._wait(_retry_after(response))
            return None
        return response

    def _connection_pause(self) -> float:
        self._failed_connections += 1
        return min(CONNECTION_PAUSE_MAX, CONNECTION_PAUSE * self._failed_connections)

    def _report(self, path: str, body: dict) -> requests.Response | None:
        """Deliver a report on a held lease, retrying connection errors and 429s (a replayed
        report is answered like the first, so retrying cannot count a failure twice)."""
        for _ in range(REPORT_TRIES):
            try:
                response = self._post(path, body)
            except _Stopped:
                break  # shutting down: one try only
            if response is not None:
                return response
        self.stats.add("abandoned")
        return None

    def _unexpected(self, response: requests.Response) -> None:
        data = _json(response)
        code = data.get("code", "")
        if response.status_code == 409 and code == "lease_lost":
            self.stats.add("lease_lost")
            return
        self.stats.error(f"{response.status_code} {code}".strip())
        if response.status_code in (401, 403):
            # The token was rotated elsewhere or the bot deactivated: retrying cannot help.
            self.fatal = f"{self.name}: {response.status_code} {data.get('detail', '')}".strip()
            return
        self._wait(ERROR_PAUSE)

    # -- waiting --

    def _wait(self, seconds: float) -> None:
        """Sleep, but wake at once and leave the loop when the simulation stops."""
        if self.stop.wait(seconds):
            raise _Stopped

    def _think(self, seconds: float) -> None:
        # While holding a lease a stop only cuts the thinking short: the bot still reports, so
        # stopping a simulation does not leave phases in progress for the scheduler to expire.
        if seconds > 0:
            self.stop.wait(seconds * self.timing.uniform(0.5, 1.5))


def _json(response: requests.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(response: requests.Response) -> float:
    """Seconds the server asked us to wait (never less than RETRY_AFTER_MIN)."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return RETRY_AFTER_DEFAULT
    return max(RETRY_AFTER_MIN, seconds) if seconds == seconds else RETRY_AFTER_DEFAULT


# --- A fleet of simulated bots ---------------------------------------------------------


@dataclass
class SimulationResult:
    stats: dict
    elapsed: float
    reason: str  # a key of REASONS
    fatal: list[str] = field(default_factory=list)


class Simulation:
    """Run one thread per bot until the duration passes, every bot made its cycles, or stop()."""

    def __init__(self, *, bots: list[tuple[str, str]], config: SimulationConfig):
        self.config = config
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.bots = [
            SimulatedBot(
                name=name,
                token=token,
                config=config,
                stats=self.stats,
                stop=self.stop_event,
                index=index,
            )
            for index, (name, token) in enumerate(bots)
        ]
        self.threads: list[threading.Thread] = []
        self.started_at: float | None = None
        self.stop_reason: str | None = None

    def elapsed(self) -> float:
        return 0.0 if self.started_at is None else time.monotonic() - self.started_at

    def start(self) -> None:
        self.started_at = time.monotonic()
        for bot in self.bots:
            thread = threading.Thread(target=bot.run, name=f"sim-{bot.name}", daemon=True)
            self.threads.append(thread)
            thread.start()

    def stop(self, reason: str = "stopped") -> None:
        """Ask every bot to stop (safe from a signal handler); `reason` is a key of REASONS."""
        self.stop_reason = self.stop_reason or reason
        self.stop_event.set()

    def running(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def wait(self, *, on_progress=None, interval: float = 1.0) -> SimulationResult:
        """Block until the end; call on_progress(snapshot, elapsed) every `interval` seconds.

        Ctrl-C (KeyboardInterrupt) stops the bots; they deliver the report in hand and the
        result is returned as usual. A second Ctrl-C stops waiting for them.
        """
        deadline = None
        if self.config.duration is not None:
            deadline = self.started_at + self.config.duration
        next_progress = time.monotonic() + interval
        reason = "stopped"
        try:
            while self.running() and not self.stop_event.is_set():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    reason = "duration"
                    break
                if on_progress is not None and now >= next_progress:
                    on_progress(self.stats.snapshot(), self.elapsed())
                    next_progress = now + interval
                self.stop_event.wait(0.05)
            else:
                if self.config.cycles is not None and all(
                    bot.claims >= self.config.cycles for bot in self.bots
                ):
                    reason = "cycles"
        except KeyboardInterrupt:
            reason = "interrupted"
        self.stop_event.set()
        try:
            self._join(grace=self.config.timeout + 1)
        except KeyboardInterrupt:
            reason = "interrupted"  # a second Ctrl-C: stop waiting for in-flight requests
        return SimulationResult(
            stats=self.stats.snapshot(),
            elapsed=self.elapsed(),
            reason=self.stop_reason or reason,
            fatal=[bot.fatal for bot in self.bots if bot.fatal],
        )

    def _join(self, *, grace: float) -> None:
        until = time.monotonic() + grace
        for thread in self.threads:
            thread.join(max(0.0, until - time.monotonic()))

    def run(self, *, on_progress=None, interval: float = 1.0) -> SimulationResult:
        self.start()
        return self.wait(on_progress=on_progress, interval=interval)


# --- Reporting -------------------------------------------------------------------------

REASONS = {
    "duration": "the duration ran out",
    "cycles": "every bot made its claims",
    "interrupted": "interrupted (Ctrl-C)",
    "terminated": "terminated (SIGTERM)",
    "stopped": "every bot stopped",
}


def format_progress(stats: dict, elapsed: float) -> str:
    """One line for the live progress display."""
    return (
        f"[{elapsed:5.0f}s] claims {stats['claims']} | completed {stats['completions']} | "
        f"failed {stats['failures']} | escalated {stats['escalations']} | "
        f"hung {stats['hangs']} | 409 {stats['lease_lost']} | 429 {stats['throttled']} | "
        f"errors {stats['errors']} | unreachable {stats['connection_errors']} | "
        f"idle {stats['idle']}"
    )


def _breakdown(counts: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items())


SUMMARY_ROWS = (
    # (label, stats key, note)
    ("claims", "claims", "phases claimed (200)"),
    ("completions", "completions", ""),
    ("failures", "failures", ""),
    ("escalations", "escalations", "failures answered review_required"),
    ("retries scheduled", "retries", "failures answered retry_scheduled"),
    ("hangs", "hangs", "claimed and never reported: the lease will expire"),
    ("heartbeats", "heartbeats", ""),
    ("409 lease lost", "lease_lost", ""),
    ("429 throttled", "throttled", "waited Retry-After"),
    ("other HTTP errors", "errors", ""),
    ("connection errors", "connection_errors", "server unreachable; retried"),
    ("abandoned reports", "abandoned", "could not be delivered: the lease will expire"),
    ("idle polls (204)", "idle", "nothing ready to claim"),
)


def format_summary(result: SimulationResult, *, bots: int, url: str) -> str:
    """The final report, one counter per line: `  <label>  <number>  <note>`."""
    stats = result.stats
    lines = [
        f"Simulated {bots} bot{'s' if bots != 1 else ''} against {url} for "
        f"{result.elapsed:.1f} s; stopped because {REASONS[result.reason]}."
    ]
    width = max(len(label) for label, _, _ in SUMMARY_ROWS)
    for label, key, note in SUMMARY_ROWS:
        if key == "failures" and stats["failures_by_category"]:
            note = _breakdown(stats["failures_by_category"])
        if key == "errors" and stats["errors_by_kind"]:
            note = _breakdown(stats["errors_by_kind"])
        lines.append(f"  {label:<{width}}  {stats[key]:>6}  {note}".rstrip())
    lines.extend(f"  stopped early: {message}" for message in result.fatal)
    return "\n".join(lines)
