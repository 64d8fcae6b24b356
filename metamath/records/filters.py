"""Exact dedup and n-gram decontamination against test questions, with counts of what went."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from metamath.records.schema import MetaMathQARecord

_WORD = re.compile(r"[a-z0-9]+")
_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.S)


def words(text: str) -> list[str]:
    """Lowercased word tokens; Asymptote figure code is dropped (shared drawing idioms
    are not shared questions)."""
    return _WORD.findall(_ASY.sub(" ", text).lower())


def ngrams(tokens: Sequence[str], n: int) -> Iterable[tuple[str, ...]]:
    if len(tokens) < n:
        yield tuple(tokens)  # a short text counts as its own single n-gram
        return
    for i in range(len(tokens) - n + 1):
        yield tuple(tokens[i : i + n])


@dataclass
class FilterReport:
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> rows

    def to_dict(self) -> dict:
        return {"kept": self.kept, "dropped": dict(self.dropped)}


def dedup_exact(records: Iterable[MetaMathQARecord], report: FilterReport) -> list[MetaMathQARecord]:
    """First occurrence of each (query, response) wins."""
    seen: set[tuple[str, str]] = set()
    out = []
    for record in records:
        key = (record.query, record.response)
        if key in seen:
            report.dropped["duplicate"] += 1
            continue
        seen.add(key)
        out.append(record)
    return out


class ContaminationIndex:
    """n-grams of test questions, labelled by test set. Build once, probe many times."""

    def __init__(self, n: int = 13) -> None:
        self.n = n
        self._owner: dict[tuple[str, ...], str] = {}

    def add(self, name: str, questions: Iterable[str]) -> "ContaminationIndex":
        for question in questions:
            for gram in ngrams(words(question), self.n):
                self._owner.setdefault(gram, name)
        return self

    def hit(self, text: str) -> str | None:
        """The test set `text` overlaps, or None."""
        for gram in ngrams(words(text), self.n):
            owner = self._owner.get(gram)
            if owner is not None:
                return owner
        return None


def decontaminate(records: Iterable[MetaMathQARecord], index: ContaminationIndex, report: FilterReport) -> list[MetaMathQARecord]:
    out = []
    for record in records:
        owner = index.hit(record.query)
        if owner is not None:
            report.dropped[f"contaminated:{owner}"] += 1
            continue
        out.append(record)
    return out
