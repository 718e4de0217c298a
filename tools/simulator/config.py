"""The simulator's options: the failure mix and how the bots behave, checked before anything runs.

The failure categories are the server's vocabulary; the caller passes them in (the command
gives the model's choices), so this package speaks only HTTP and imports nothing of the domain.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

DEFAULT_MIX = {  # the spec below is written from it, so the two cannot drift
    "network_error": 4.0,
    "rate_limited": 2.0,
    "challenge_required": 1.0,
    "proxy_error": 2.0,
    "bot_error": 1.0,
    "content_rejected": 1.0,
    "login_failed": 1.0,
}
DEFAULT_MIX_SPEC = ",".join(f"{category}={weight:g}" for category, weight in DEFAULT_MIX.items())

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
OUTAGE_TOO_LONG = (
    "--outage-length must be shorter than --outage-every (got {length:g} of {every:g})."
)
BAD_URL = "The server URL must start with http:// or https:// (got {value!r})."


class SimulatorConfigError(ValueError):
    """An invalid simulator option; the message says which and why."""


def parse_mix(spec: str, *, categories: Collection[str]) -> dict[str, float]:
    """Parse 'network_error=4,rate_limited=2' into {category: weight}, each category one of
    `categories` (or SimulatorConfigError)."""
    entries = [entry.strip() for entry in (spec or "").split(",") if entry.strip()]
    if not entries:
        raise SimulatorConfigError(MIX_EMPTY.format(example=DEFAULT_MIX_SPEC))
    mix: dict[str, float] = {}
    for entry in entries:
        category, sep, weight_text = (part.strip() for part in entry.partition("="))
        if not sep or not category:
            raise SimulatorConfigError(MIX_BAD_PAIR.format(entry=entry))
        if category not in categories:
            raise SimulatorConfigError(
                MIX_UNKNOWN_CATEGORY.format(value=category, choices=", ".join(categories))
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
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    hang_rate: float = 0.0
    nonretryable_rate: float = 0.1
    think: float = 0.5
    duration: float | None = None
    cycles: int | None = None
    seed: int | None = None
    timeout: float = 10.0
    # Plans (slugs) whose phases the bots claim, sent as the claim filter; empty claims any.
    plans: tuple[str, ...] = ()
    # A proxy outage: the last `outage_length` seconds of every `outage_every` seconds since
    # the fleet started, every claimed phase fails with proxy_error. None: never.
    outage_every: float | None = None
    outage_length: float = 60.0

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

        if self.outage_every is not None:
            if not self.outage_every > 0:
                raise SimulatorConfigError(
                    MUST_BE_POSITIVE.format(name="--outage-every", value=self.outage_every)
                )
            if not self.outage_length > 0:
                raise SimulatorConfigError(
                    MUST_BE_POSITIVE.format(name="--outage-length", value=self.outage_length)
                )
            if not self.outage_length < self.outage_every:
                raise SimulatorConfigError(
                    OUTAGE_TOO_LONG.format(length=self.outage_length, every=self.outage_every)
                )

    def in_outage(self, elapsed: float) -> bool:
        """True while the simulated proxy pool is down, `elapsed` seconds after the start."""
        if self.outage_every is None:
            return False
        return elapsed % self.outage_every >= self.outage_every - self.outage_length

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1/bot"


def _opt(name: str) -> str:
    return "--" + name.replace("_", "-")
