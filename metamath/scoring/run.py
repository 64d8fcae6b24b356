"""`metamath score`: re-score a predictions file against a benchmark, write report + verdicts."""

from __future__ import annotations

import json
from typing import Any

from metamath import storage
from metamath.data.benchmarks import load_benchmark
from metamath.scoring.predictions import match_predictions
from metamath.scoring.report import benchmark_report, write_report
from metamath.scoring.verdicts import score_batch


def score_predictions(
    benchmark: str,
    predictions: str,
    out_dir: str,
    data_path: str | None = None,
    data_root: str | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Writes OUT/report.json and OUT/verdicts.jsonl; returns the report mapping."""
    problems = load_benchmark(benchmark, "test", path=data_path, root=data_root).problems
    matched = match_predictions(predictions, problems)
    verdicts = score_batch(benchmark, [(m.completion, m.problem.gold) for m in matched], workers)
    with storage.open_text_output(storage.join(out_dir, "verdicts.jsonl")) as handle:
        for item, verdict in zip(matched, verdicts):
            row = {"id": item.problem.id, "line": item.line, "gold": item.problem.gold, **verdict.to_dict()}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    reports = {benchmark: benchmark_report([m.problem for m in matched], verdicts)}
    write_report(out_dir, reports)
    return reports
