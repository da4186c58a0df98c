"""Seeded sampling helpers for the simulation and storms. Every draw comes from a ``random.Random`` handed in
(made by ``Ids.rng``), never from the module-level generator."""

from __future__ import annotations

import bisect
import itertools
import math
import random


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson(lam) count: exact by inversion up to lam = 500, a rounded normal above (exp(-lam) underflows
    past ~745, and at that size the normal is within a fraction of a percent)."""
    if lam <= 0:
        return 0
    if lam > 500:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    u = rng.random()
    k = 0
    p = math.exp(-lam)
    cdf = p
    while u > cdf and k < 10_000:
        k += 1
        p *= lam / k
        cdf += p
    return k


class Zipf:
    """Rank r (0-based) of n drawn with probability proportional to 1 / (r + 1)**s, by bisecting the
    cumulative weights (built once: O(n) memory, O(log n) a draw)."""

    def __init__(self, n: int, s: float) -> None:
        self.n = n
        self.cum = list(itertools.accumulate(1.0 / (r + 1) ** s for r in range(n)))
        self.total = self.cum[-1]

    def draw(self, rng: random.Random) -> int:
        return min(self.n - 1, bisect.bisect_right(self.cum, rng.random() * self.total))


def jittered(rng: random.Random, seconds: float, jitter: float) -> float:
    """``seconds`` varied uniformly by +-``jitter`` (a fraction)."""
    return seconds * (1.0 + rng.uniform(-jitter, jitter))
