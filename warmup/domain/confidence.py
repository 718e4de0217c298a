"""How sure a success rate is: the lower bound of its Wilson score interval.

A resolution that worked 1 time of 1 has a raw rate of 100 %, one that worked 192 times of
1,518 a rate of 13 %; the first says almost nothing. Ranked by the lower bound of the interval
the true rate lies in (with 95 % confidence), few cases count for little and many for much.
Wilson's interval, unlike the normal approximation, stays within 0..1 and is sound for small
counts and rates near 0 or 1.

Pure functions: no database, no settings.
"""

from __future__ import annotations

from math import sqrt

Z_95 = 1.959963984540054  # the standard normal quantile of 97.5 %: a two-sided 95 % interval


def wilson_lower_bound(successes: int, trials: int, *, z: float = Z_95) -> float:
    """The lower bound of the Wilson score interval of `successes` in `trials` (0.0 for no
    trials: nothing is known)."""
    if trials <= 0:
        return 0.0
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be within 0..{trials}, not {successes}")
    rate = successes / trials
    z2 = z * z
    centre = rate + z2 / (2 * trials)
    spread = z * sqrt(rate * (1 - rate) / trials + z2 / (4 * trials * trials))
    return max(0.0, (centre - spread) / (1 + z2 / trials))
