"""Match prediction rows ({question or id, completion}) to a benchmark's problems."""

from __future__ import annotations

from dataclasses import dataclass

from metamath.data.benchmarks import Problem
from metamath.data.sources import MalformedRows, iter_rows
from metamath.errors import DataError


@dataclass(frozen=True)
class Prediction:
    problem: Problem
    completion: str
    line: int


def _key(text: str) -> str:
    return " ".join(text.split())


def match_predictions(path: str, problems: list[Problem], show: int = 3) -> list[Prediction]:
    """Every row must name a known problem by `id` or `question`; unknown ones are an error."""
    by_id = {p.id: p for p in problems}
    by_question = {_key(p.question): p for p in problems}
    matched: list[Prediction] = []
    unknown: list[str] = []
    bad = MalformedRows(path)
    for line, row in iter_rows(path, "error", bad):
        completion = row.get("completion")
        if not isinstance(completion, str):
            raise DataError(f"{path}:{line}: missing string field 'completion'")
        problem = by_id.get(str(row.get("id"))) if row.get("id") is not None else None
        if problem is None and isinstance(row.get("question"), str):
            problem = by_question.get(_key(row["question"]))
        if problem is None:
            if row.get("id") is None and not isinstance(row.get("question"), str):
                raise DataError(f"{path}:{line}: needs a 'question' or an 'id' field")
            unknown.append(f"line {line}: {str(row.get('id') or row.get('question'))[:60]!r}")
            continue
        matched.append(Prediction(problem, completion, line))
    if unknown:
        raise DataError(
            f"{path}: {len(unknown)} prediction(s) match no question of the benchmark; first: "
            + "; ".join(unknown[:show])
        )
    if not matched:
        raise DataError(f"{path}: no predictions")
    return matched
