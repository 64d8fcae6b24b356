"""Score completions under both scorers, in parallel processes for large batches."""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

from metamath.scoring.paper import paper_verdict
from metamath.scoring.strict import strict_verdict

PARALLEL_THRESHOLD = 256


@dataclass(frozen=True)
class Verdict:
    paper_answer: str | None
    paper_correct: bool
    strict_answer: str | None
    strict_correct: bool

    def to_dict(self) -> dict:
        return asdict(self)


def score_one(benchmark: str, completion: str, gold: str) -> Verdict:
    paper_answer, paper_ok = paper_verdict(benchmark, completion, gold)
    strict_answer, strict_ok = strict_verdict(benchmark, completion, gold)
    return Verdict(paper_answer, paper_ok, strict_answer, strict_ok)


def _score_chunk(args: tuple[str, list[tuple[str, str]]]) -> list[Verdict]:
    benchmark, pairs = args
    return [score_one(benchmark, completion, gold) for completion, gold in pairs]


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def score_batch(benchmark: str, pairs: Sequence[tuple[str, str]], workers: int | None = None) -> list[Verdict]:
    """Verdicts for (completion, gold) pairs, in order.

    Large batches go to a process pool: math-verify is CPU-bound, and each pool process
    runs on its own main thread, so math-verify's signal timeouts stay active there.
    """
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(pairs) < PARALLEL_THRESHOLD:
        return _score_chunk((benchmark, list(pairs)))
    size = max(32, len(pairs) // (workers * 4))
    jobs = [(benchmark, list(chunk)) for chunk in _chunks(pairs, size)]
    # spawn, not fork: callers may be multi-threaded (Ray workers, asyncio loops).
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        return [verdict for chunk in pool.map(_score_chunk, jobs) for verdict in chunk]
