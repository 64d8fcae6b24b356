"""Scoring speed: 5,000 MATH predictions under both scorers, serial vs all cores, one run.

    python benchmarks/score_speed.py [--n 5000]

Completions alternate between the gold answer and a wrong one so both verdict paths run.
Prints seconds, items/s and the parallel/serial ratio.
"""

from __future__ import annotations

import argparse
import os
import time

from metamath.data import load_benchmark
from metamath.scoring import score_batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    problems = load_benchmark("math", "test", limit=args.n).problems
    pairs = [(f"{p.solution}\nThe answer is: {p.gold if i % 2 == 0 else problems[i - 1].gold}", p.gold)
             for i, p in enumerate(problems)]
    timings = {}
    for label, workers in (("serial", 1), (f"parallel ({os.cpu_count()} procs)", None)):
        start = time.perf_counter()
        verdicts = score_batch("math", pairs, workers=workers)
        timings[label] = time.perf_counter() - start
        strict = sum(v.strict_correct for v in verdicts) / len(verdicts)
        print(f"{label:24s} {len(pairs)} items  {timings[label]:6.1f} s  {len(pairs) / timings[label]:7.1f} items/s"
              f"  strict acc {strict:.3f}")
    serial, parallel = timings.values()
    print(f"speed-up parallel/serial: {serial / parallel:.2f}x")


if __name__ == "__main__":
    main()
