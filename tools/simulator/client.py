"""One simulated bot: an HTTP client of the bot API that claims phases, heartbeats and reports.

A simulated bot knows the system only through `/api/v1/bot/`, exactly as a real bot does: it never
reads or writes a phase through the ORM. What it does with a claimed phase comes from
`stories.draw_plan`; this module delivers it over HTTP as docs/bots.md asks of bot developers:
a 429, or a 503 (the database was unavailable; 502 and 504 from a proxy in front alike), is
waited out, for Retry-After when the server says, else with a pause that doubles; a pause while
the server is unreachable; and a report is sent again, word for word with the same lease token,
until delivered (the server answers a repeated report as it answered the first).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import requests

from .config import SimulationConfig
from .stats import Stats
from .stories import draw_plan

IDLE_BACKOFF_START = 0.5  # seconds to wait after a 204, doubling while nothing is ready
IDLE_BACKOFF_MAX = 4.0
CONNECTION_PAUSE = 1.0  # seconds between tries while the server is unreachable
CONNECTION_PAUSE_MAX = 5.0
ERROR_PAUSE = 1.0  # after an unexpected HTTP error, so a broken server is not hammered
RETRY_AFTER_DEFAULT = 1.0  # a 429 without a usable Retry-After header
RETRY_AFTER_MIN = 0.2  # "Retry-After: 0" must not turn into a busy loop
UNAVAILABLE_PAUSE = 0.5  # after a 503 without Retry-After, doubling while they last
UNAVAILABLE_PAUSE_MAX = 8.0
UNAVAILABLE = (502, 503, 504)  # the server (or a proxy before it) asks to try again later
REPORT_TRIES = 8  # tries to deliver one report (connection errors, 429, 503) before giving up


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
        elapsed: Callable[[], float] = lambda: 0.0,
    ):
        self.name = name
        self.config = config
        self.stats = stats
        self.stop = stop
        self.claims = 0
        self.elapsed = elapsed  # seconds since the fleet started (for the outage window)
        self.fatal: str | None = None
        self._failed_connections = 0
        self._unavailable_in_a_row = 0
        # Decisions come from their own generator, never drawn from by timing-dependent code,
        # so a seeded run makes the same decisions whatever the server's speed.
        seed = None if config.seed is None else f"{config.seed}:{index}"
        self.decisions = random.Random(seed)
        self.timing = random.Random(seed and f"{seed}:timing")
        self._claim_filter = {"plans": list(config.plans)} if config.plans else {}
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "User-Agent": f"warmup-simulator/{name}"}
        )

    # -- the loop --

    def run(self) -> None:
        idle_wait = IDLE_BACKOFF_START
        try:
            while not self._done():
                response = self._post("phases/claim/", self._claim_filter)
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

    def _work(self, phase: dict) -> None:
        outage = self.config.in_outage(self.elapsed())
        plan = draw_plan(self.decisions, self.config, outage=outage)
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
        if response.status_code in UNAVAILABLE:
            self.stats.add("unavailable")
            self._unavailable_in_a_row += 1
            backoff = min(
                UNAVAILABLE_PAUSE_MAX, UNAVAILABLE_PAUSE * 2 ** (self._unavailable_in_a_row - 1)
            )
            self._wait(_retry_after(response, default=backoff))
            return None
        self._unavailable_in_a_row = 0
        return response

    def _connection_pause(self) -> float:
        self._failed_connections += 1
        return min(CONNECTION_PAUSE_MAX, CONNECTION_PAUSE * self._failed_connections)

    def _report(self, path: str, body: dict) -> requests.Response | None:
        """Deliver a report on a held lease, retrying connection errors, 429s and 503s with the
        same body and lease token (a replayed report is answered like the first, so retrying
        cannot count a failure twice)."""
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


def _retry_after(response: requests.Response, *, default: float = RETRY_AFTER_DEFAULT) -> float:
    """Seconds the server asked us to wait (never less than RETRY_AFTER_MIN); `default`
    without a usable Retry-After header."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return default
    return max(RETRY_AFTER_MIN, seconds) if seconds == seconds else default
