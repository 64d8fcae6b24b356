"""Score completions under both scorers, in parallel processes for large batches."""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

from metamath.data.ood import WORD_PROBLEMS
from metamath.scoring.ood import drop_answers, drop_verdict, paper_word_problem
from metamath.scoring.paper import paper_verdict
from metamath.scoring.strict import strict_verdict

PARALLEL_THRESHOLD = 256


@dataclass(frozen=True)
class Verdict:
    paper_answer: str | None
    paper_correct: bool
    strict_answer: str | None
    strict_correct: bool
    scoring_error: str | None = None  # a scorer raised on this completion: it counts as no answer
    paper_f1: float | None = None  # DROP's F1 (the verdicts above are its exact match); None elsewhere
    strict_f1: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _isolated(scorer, name: str, errors: list[str], *args: str) -> tuple[str | None, bool]:
    try:
        return scorer(*args)
    except Exception as exc:  # noqa: BLE001 - one completion must never stop a run
        errors.append(f"{name}: {type(exc).__name__}: {exc}"[:200])
        return None, False


def score_one(benchmark: str, completion: str, gold: str) -> Verdict:
    """Both scorers, each isolated: whatever a completion holds ('5/00', a LaTeX bomb), a scorer
    that raises gives "no answer" for it, the error is kept, and the other scorer still judges."""
    errors: list[str] = []
    if benchmark == "drop":
        return _drop_verdict(completion, gold, errors)
    if benchmark in WORD_PROBLEMS:
        paper_answer, paper_ok = _isolated(_paper_word_problem, "paper", errors, benchmark, completion, gold)
    else:
        paper_answer, paper_ok = _isolated(paper_verdict, "paper", errors, benchmark, completion, gold)
    strict_answer, strict_ok = _isolated(strict_verdict, "strict", errors, benchmark, completion, gold)
    return Verdict(paper_answer, paper_ok, strict_answer, strict_ok, "; ".join(errors) or None)


def _paper_word_problem(benchmark: str, completion: str, gold: str) -> tuple[str | None, bool]:
    return paper_word_problem(completion, gold)


def _drop_verdict(completion: str, gold: str, errors: list[str]) -> Verdict:
    """Each scorer's extracted answer, judged by DROP's exact match (the verdict) and F1."""
    paper_answer, strict_answer = drop_answers(completion)
    paper_ok, paper_f1 = _isolated(drop_verdict, "paper", errors, paper_answer, gold)
    strict_ok, strict_f1 = _isolated(drop_verdict, "strict", errors, strict_answer, gold)
    return Verdict(paper_answer, bool(paper_ok), strict_answer, bool(strict_ok), "; ".join(errors) or None,
                   float(paper_f1 or 0.0), float(strict_f1 or 0.0))


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
