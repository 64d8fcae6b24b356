"""report.json (one schema for `metamath score` and `metamath evaluate`) and its table."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Sequence

from metamath.data.benchmarks import Problem
from metamath.scoring.uncertainty import wilson_interval
from metamath.scoring.verdicts import Verdict


class ReportBuilder:
    """Counts for one benchmark's report, fed one verdict at a time (a stream of any length)."""

    def __init__(self) -> None:
        self.total = _Counts()
        self.groups: dict[str, dict[str, _Counts]] = {"by_subject": defaultdict(_Counts), "by_level": defaultdict(_Counts)}
        self.grouped = False
        self.missing = {"paper": 0, "strict": 0}
        self.scoring_errors = 0

    def add(self, verdict: Verdict, subject: str | None = None, level: int | None = None) -> None:
        self.total.add(verdict)
        self.missing["paper"] += verdict.paper_answer is None
        self.missing["strict"] += verdict.strict_answer is None
        self.scoring_errors += verdict.scoring_error is not None
        self.grouped = self.grouped or bool(subject)
        self.groups["by_subject"]["unknown" if subject is None else str(subject)].add(verdict)
        self.groups["by_level"]["unknown" if level is None else str(level)].add(verdict)

    def build(self) -> dict[str, Any]:
        """{n, paper: {accuracy, correct}, strict: {...}, missing_answer, [by_subject, by_level]}."""
        report = {**self.total.to_dict(), "missing_answer": dict(self.missing), "scoring_errors": self.scoring_errors}
        if self.grouped:
            for name, groups in self.groups.items():
                if set(groups) != {"unknown"}:  # SVAMP has types but no levels: no empty table
                    report[name] = {key: groups[key].to_dict() for key in sorted(groups)}
        return report


class _Counts:
    def __init__(self) -> None:
        self.n = self.paper = self.strict = 0
        self.f1: dict[str, float] | None = None  # DROP: F1 sums next to the exact-match counts

    def add(self, verdict: Verdict) -> None:
        self.n += 1
        self.paper += bool(verdict.paper_correct)
        self.strict += bool(verdict.strict_correct)
        if verdict.paper_f1 is not None or verdict.strict_f1 is not None:
            self.f1 = self.f1 or {"paper": 0.0, "strict": 0.0}
            self.f1["paper"] += verdict.paper_f1 or 0.0
            self.f1["strict"] += verdict.strict_f1 or 0.0

    def to_dict(self) -> dict[str, Any]:
        entries = {"paper": scorer_entry(self.paper, self.n), "strict": scorer_entry(self.strict, self.n)}
        if self.f1 is not None:  # accuracy is the exact match; F1 is its mean over items
            for scorer, entry in entries.items():
                entry["f1"] = round(self.f1[scorer] / self.n, 4) if self.n else 0.0
        return {"n": self.n, **entries}


def scorer_entry(correct: int, n: int) -> dict[str, Any]:
    """{accuracy, correct, ci95}: the 95% Wilson interval goes with every accuracy."""
    return {"accuracy": correct / n if n else 0.0, "correct": correct,
            "ci95": [round(bound, 4) for bound in wilson_interval(correct, n)]}


def interval(entry: dict[str, Any], n: int) -> tuple[float, float]:
    """A scorer entry's 95% interval (recomputed for a report.json written before they were)."""
    if entry.get("ci95"):
        return entry["ci95"][0], entry["ci95"][1]
    return wilson_interval(entry.get("correct", round(entry["accuracy"] * n)), n)


def percent_with_interval(entry: dict[str, Any], n: int) -> str:
    """"45.0 [38.1, 52.0]": accuracy and its 95% interval, in percent."""
    low, high = interval(entry, n)
    return f"{100 * entry['accuracy']:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def score_cell(entry: dict[str, Any], n: int) -> str:
    """A table cell: accuracy with its interval, and DROP's F1 when the entry has one."""
    cell = percent_with_interval(entry, n)
    return cell + (f"; F1 {100 * entry['f1']:.1f}" if entry.get("f1") is not None else "")


def benchmark_report(problems: Sequence[Problem], verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """{n, paper: {accuracy}, strict: {accuracy}, missing_answer, [by_subject, by_level]}."""
    builder = ReportBuilder()
    for problem, verdict in zip(problems, verdicts):
        builder.add(verdict, problem.subject, problem.level)
    return builder.build()


def write_report(out_dir: str, reports: dict[str, Any]) -> str:
    from metamath import storage

    path = storage.join(str(out_dir), "report.json")
    storage.write_text(path, json.dumps(reports, indent=2, sort_keys=True) + "\n")
    return path


def report_table(reports: dict[str, Any], title: str = "Accuracy"):
    """A rich Table: one row per benchmark (and MATH level), both scorers."""
    from rich.table import Table

    table = Table(title=title, caption="accuracy % [95% Wilson interval]; DROP: exact match, and F1")
    for column in ("benchmark", "n", "paper", "strict", "no answer (paper)"):
        table.add_column(column, justify="left" if column == "benchmark" else "right")
    for name, rep in reports.items():
        table.add_row(name, str(rep["n"]), score_cell(rep["paper"], rep["n"]),
                      score_cell(rep["strict"], rep["n"]), str(rep.get("missing_answer", {}).get("paper", "")))
        for level, sub in rep.get("by_level", {}).items():
            table.add_row(f"  level {level}", str(sub["n"]), percent_with_interval(sub["paper"], sub["n"]),
                          percent_with_interval(sub["strict"], sub["n"]), "")
    return table
