"""DARS, difficulty-aware rejection sampling (DART-Math, Tong et al., NeurIPS 2024), as an augment
method: solves are asked in rounds of `round_samples` per question, every one through the store,
the limiter, batch mode and resume like any other request, and judged as it comes back. A
question leaves the loop once it holds its quota of verified-correct solutions (solved) or has
used `max_trials` samples (unsolved).

    uniform:   quota = min_correct (k_u)
    prop2diff: round 0 is a probe; quota = max(1, ceil(min_correct x fail rate in the probe)), so
               the hardest questions (none right) get min_correct (k_p) and the easiest one.

Each round's sample indices continue where the question's last round stopped, so a re-run asks
for the very same keys, finds them on file and takes the same decisions: a resumed run buys
nothing twice and ends with the rows of an uninterrupted one. A question keeps its first `quota`
correct solutions by sample index (a round can overshoot); `cutoffs` says which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from metamath.augment.tasks import AugmentContext
from metamath.config import DarsConfig
from metamath.data.benchmarks import Problem
from metamath.prompts import solve_messages
from metamath.generation.requests import make_group


@dataclass
class QuestionState:
    trials: int = 0
    correct_indices: list[int] = field(default_factory=list)
    quota: int | None = None  # None until set (prop2diff: after the probe)
    done: bool = False

    @property
    def correct(self) -> int:
        return len(self.correct_indices)

    @property
    def solved(self) -> bool:
        return self.quota is not None and self.correct >= self.quota


def quota_for(cfg: DarsConfig, state: QuestionState) -> int:
    if cfg.strategy == "uniform":
        return cfg.min_correct
    fail_rate = 1.0 - state.correct / max(1, state.trials)
    return max(1, math.ceil(cfg.min_correct * fail_rate))


def round_groups(problems: list[Problem], states: dict[str, QuestionState], ctx: AugmentContext) -> list[dict]:
    """The next round's request groups: `round_samples` more solves of every active question."""
    cfg, teacher, aug = ctx.augment.dars, ctx.teacher, ctx.augment
    out = []
    for problem in problems:
        state = states[problem.id]
        if state.done:
            continue
        n = min(cfg.round_samples, cfg.max_trials - state.trials)
        meta = {"method": "dars", "stage": "solve", "source_id": problem.id, "original_question": problem.question,
                "gold": problem.gold, "line": problem.line, "query": problem.question}
        group = make_group(teacher, solve_messages(problem.question, ctx.shots, aug.shots), n, meta,
                           first_index=state.trials)
        out.append(group.to_row())
    return out


def record_round(states: dict[str, QuestionState], verdicts: dict[str, list[tuple[int, str]]], cfg: DarsConfig) -> None:
    """A round's (sample index, verdict) per question into the states; quotas and stops decided."""
    for question, results in verdicts.items():
        state = states[question]
        state.trials += len(results)
        state.correct_indices += sorted(i for i, verdict in results if verdict == "correct")
        if state.quota is None:
            state.quota = quota_for(cfg, state)
        state.done = state.solved or state.trials >= cfg.max_trials


def cutoffs(states: dict[str, QuestionState]) -> dict[str, int]:
    """Question -> the largest sample index kept: its first `quota` correct solutions."""
    out = {}
    for question, state in states.items():
        kept = sorted(state.correct_indices)[: state.quota or 0]
        if kept:
            out[question] = kept[-1]
    return out


def within_quota(row: dict[str, Any], cutoffs: dict[str, int]) -> bool:
    """Ray Data filter: a DARS row is kept only among its question's first `quota` correct."""
    if not str(row.get("type") or "").endswith("_DARS") or row.get("verdict") != "correct":
        return True  # only correct rows become data; the others carry no sample index
    return int(row["sample_index"]) <= cutoffs.get(row["source_id"], -1)


def difficulty_rows(states: dict[str, QuestionState], problems: list[Problem], method: str) -> list[dict]:
    by_id = {p.id: p for p in problems}
    return [{"question_id": q, "method": method, "trials": s.trials, "correct": s.correct,
             "pass_rate": round(s.correct / s.trials, 6) if s.trials else None, "solved": s.solved,
             "quota": s.quota, "level": by_id[q].level, "subject": by_id[q].subject}
            for q, s in states.items()]


def verdicts_by_question(rows: list[dict]) -> dict[str, list[tuple[int, str]]]:
    """Tally rows {question_id, sample_index, verdict} -> question -> [(index, verdict)]."""
    out: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        out.setdefault(row["question_id"], []).append((int(row["sample_index"]), row["verdict"]))
    return out


def summary(states: dict[str, QuestionState], cfg: DarsConfig, rounds: int) -> dict[str, Any]:
    solved = sum(s.solved for s in states.values())
    return {"strategy": cfg.strategy, "min_correct": cfg.min_correct, "max_trials": cfg.max_trials,
            "round_samples": cfg.round_samples, "rounds": rounds, "questions": len(states), "solved": solved,
            "unsolved": len(states) - solved, "trials": sum(s.trials for s in states.values()),
            "correct_found": sum(s.correct for s in states.values()),
            "kept": sum(min(s.correct, s.quota or 0) for s in states.values())}
