"""report.json (one schema for `metamath score` and `metamath evaluate`) and its table."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

from metamath.data.benchmarks import Problem
from metamath.scoring.verdicts import Verdict


def _accuracy(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    n = len(verdicts)
    paper = sum(v.paper_correct for v in verdicts)
    strict = sum(v.strict_correct for v in verdicts)
    return {
        "n": n,
        "paper": {"accuracy": paper / n if n else 0.0, "correct": paper},
        "strict": {"accuracy": strict / n if n else 0.0, "correct": strict},
    }


def _grouped(problems: Sequence[Problem], verdicts: Sequence[Verdict], attr: str) -> dict[str, Any]:
    groups: dict[str, list[Verdict]] = defaultdict(list)
    for problem, verdict in zip(problems, verdicts):
        value = getattr(problem, attr)
        groups["unknown" if value is None else str(value)].append(verdict)
    return {key: _accuracy(groups[key]) for key in sorted(groups)}


def benchmark_report(problems: Sequence[Problem], verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """{n, paper: {accuracy}, strict: {accuracy}, missing_answer, [by_subject, by_level]}."""
    report = _accuracy(verdicts)
    report["missing_answer"] = {
        "paper": sum(v.paper_answer is None for v in verdicts),
        "strict": sum(v.strict_answer is None for v in verdicts),
    }
    if any(p.subject for p in problems):
        report["by_subject"] = _grouped(problems, verdicts, "subject")
        report["by_level"] = _grouped(problems, verdicts, "level")
    return report


def write_report(out_dir: str | Path, reports: dict[str, Any]) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(json.dumps(reports, indent=2, sort_keys=True) + "\n")
    return path


def report_table(reports: dict[str, Any], title: str = "Accuracy"):
    """A rich Table: one row per benchmark (and MATH level), both scorers."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("benchmark", "n", "paper", "strict", "no answer (paper)"):
        table.add_column(column, justify="left" if column == "benchmark" else "right")
    for name, rep in reports.items():
        table.add_row(name, str(rep["n"]), f"{rep['paper']['accuracy']:.2%}", f"{rep['strict']['accuracy']:.2%}",
                      str(rep.get("missing_answer", {}).get("paper", "")))
        for level, sub in rep.get("by_level", {}).items():
            table.add_row(f"  level {level}", str(sub["n"]), f"{sub['paper']['accuracy']:.2%}",
                          f"{sub['strict']['accuracy']:.2%}", "")
    return table
