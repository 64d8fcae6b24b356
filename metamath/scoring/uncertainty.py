"""How sure an accuracy is, and whether two runs on the same items really differ.

- `wilson_interval`: the 95% Wilson score interval of a proportion (sound at 0/n and n/n,
  where the normal approximation collapses to a point).
- `mcnemar_exact`: the exact two-sided McNemar test on paired verdicts: under "no difference"
  each discordant item (right in one run, wrong in the other) is a fair coin.
- `paired_bootstrap`: a 95% interval for the accuracy difference, resampling items (both runs'
  verdicts on an item stay together).
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Sequence

Z_95 = 1.959963984540054


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 0.0
    p, z2 = correct / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact p-value from the discordant counts (items only run A got right, and
    items only run B got right): twice the smaller binomial tail at p = 1/2, capped at 1."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap(a: Sequence[bool], b: Sequence[bool], resamples: int = 10_000,
                     seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of accuracy(b) - accuracy(a) over items resampled with replacement."""
    n = len(a)
    if n == 0:
        return 0.0, 0.0
    deltas = [int(y) - int(x) for x, y in zip(a, b)]
    rng = random.Random(seed)
    draws = sorted(sum(rng.choices(deltas, k=n)) / n for _ in range(resamples))
    return draws[int(0.025 * (resamples - 1))], draws[int(math.ceil(0.975 * (resamples - 1)))]


@dataclass(frozen=True)
class PairedDifference:
    n: int
    accuracy_a: float
    accuracy_b: float
    difference: float  # b - a
    only_a: int
    only_b: int
    ci95: tuple[float, float]
    mcnemar_p: float

    @property
    def significant(self) -> bool:
        return self.mcnemar_p < 0.05

    def to_dict(self) -> dict:
        return {**asdict(self), "ci95": list(self.ci95), "significant": self.significant}


def paired_difference(a: Sequence[bool], b: Sequence[bool], resamples: int = 10_000) -> PairedDifference:
    """Run B against run A on the same items, in the same order."""
    if len(a) != len(b):
        raise ValueError(f"paired verdicts need the same items: {len(a)} against {len(b)}")
    n = len(a)
    only_a = sum(1 for x, y in zip(a, b) if x and not y)
    only_b = sum(1 for x, y in zip(a, b) if y and not x)
    acc_a, acc_b = (sum(map(bool, a)) / n, sum(map(bool, b)) / n) if n else (0.0, 0.0)
    return PairedDifference(n, acc_a, acc_b, acc_b - acc_a, only_a, only_b, paired_bootstrap(a, b, resamples),
                            mcnemar_exact(only_a, only_b))
