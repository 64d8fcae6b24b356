"""Benchmark loaders: one `Problem` schema out of GSM8K, MATH, MATH-500, GSM8K-Backward and the
out-of-distribution sets (metamath/data/ood.py)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from metamath.data.paths import resolve_source
from metamath.data.ood import OOD_BENCHMARKS, OOD_PARSERS, RowError
from metamath.data.sources import MalformedRows, iter_rows
from metamath.latex import last_boxed

BENCHMARKS = ("gsm8k", "math", "math500", "gsm8k_backward", *OOD_BENCHMARKS)


@dataclass(frozen=True)
class Problem:
    id: str
    benchmark: str
    question: str
    gold: str
    solution: str = ""
    subject: str | None = None
    level: int | None = None
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadResult:
    source: str
    problems: list[Problem]
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _text_field(row: dict[str, Any], *names: str) -> str:
    for name in names:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            return value
    raise RowError(f"missing or empty field {' / '.join(repr(n) for n in names)}")


def stable_id(prefix: str, text: str) -> str:
    """Content-derived: survives reordering and re-downloads of the same data."""
    return f"{prefix}/{hashlib.sha256(text.strip().encode()).hexdigest()[:12]}"


_GSM_GOLD = re.compile(r"####\s*(-?[\d,]*\.?\d+)\s*$")


def gsm8k_gold(answer: str) -> str:
    match = _GSM_GOLD.search(answer.strip())
    if not match:
        raise RowError("answer has no final '#### N' line")
    return match.group(1).replace(",", "")


def _level(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    match = re.search(r"\d+", str(value or ""))
    return int(match.group(0)) if match else None  # "Level ?" in two MATH train rows


def parse_gsm8k(row: dict[str, Any], split: str, line: int) -> Problem:
    question = _text_field(row, "question", "query")
    answer = _text_field(row, "answer", "response")
    return Problem(stable_id(f"gsm8k/{split}", question), "gsm8k", question, gsm8k_gold(answer), answer, line=line)


def parse_math(row: dict[str, Any], split: str, line: int, benchmark: str = "math") -> Problem:
    question = _text_field(row, "problem", "question")
    solution = _text_field(row, "solution")
    gold = row.get("answer")
    if not isinstance(gold, str):
        gold = last_boxed(solution)
        if gold is None:
            raise RowError("solution has no \\boxed{} answer")
    uid = row.get("unique_id") or stable_id(f"math/{split}", question)
    subject = row.get("subject") or row.get("type")
    return Problem(str(uid), benchmark, question, gold, solution, subject, _level(row.get("level")), line)


def parse_backward(row: dict[str, Any], split: str, line: int) -> Problem:
    question = _text_field(row, "question", "query")
    gold = row.get("answer")
    if isinstance(gold, (int, float)) and not isinstance(gold, bool):
        gold = str(gold)
    if not isinstance(gold, str) or not gold.strip():
        raise RowError("missing or empty field 'answer'")
    return Problem(stable_id(f"gsm8k_backward/{split}", question), "gsm8k_backward", question, gold.strip(), line=line)


def ood_parser(benchmark: str) -> Callable[[dict[str, Any], str, int], Problem]:
    """A loader for one out-of-distribution set: its fields -> Problem, the id from question and
    gold (MAWPS and DROP repeat some rows exactly: those share an id, a prompt and a verdict)."""
    parse = OOD_PARSERS[benchmark]

    def parse_row(row: dict[str, Any], split: str, line: int) -> Problem:
        fields = parse(row)  # raises RowError, as the other loaders do
        level = fields.pop("level", None)
        return Problem(stable_id(f"{benchmark}/{split}", f"{fields['question']}\n{fields['gold']}"), benchmark,
                       level=_level(level) if level is not None else None, line=line, **fields)

    return parse_row


PARSERS: dict[str, Callable[[dict[str, Any], str, int], Problem]] = {
    "gsm8k": parse_gsm8k,
    "math": parse_math,
    "math500": lambda row, split, line: parse_math(row, split, line, "math500"),
    "gsm8k_backward": parse_backward,
    **{name: ood_parser(name) for name in OOD_BENCHMARKS},
}


def load_benchmark(
    name: str,
    split: str = "test",
    path: str | None = None,
    root: str | None = None,
    on_malformed: str = "error",
    limit: int | None = None,
) -> LoadResult:
    """Load `name`'s `split`. Bad rows raise DataError (file:line) or are skipped and listed."""
    if name not in PARSERS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    source = resolve_source(name, split, path, root)
    bad = MalformedRows(source)
    problems: list[Problem] = []
    for line, row in iter_rows(source, on_malformed, bad):
        try:
            problems.append(PARSERS[name](row, split, line))
        except RowError as exc:
            bad.record(line, str(exc), on_malformed)
            continue
        if limit is not None and len(problems) >= limit:
            break
    return LoadResult(source, problems, bad.skipped)
