"""`make demo`: the main job on the embedded default.

Until the pipeline stages land this scores a sample: 50 GSM8K and 50 MATH-500 test items,
each completed with its gold solution (odd rows with a neighbour's answer instead), under
both scorers, and prints the tables.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from metamath.data import load_benchmark
from metamath.scoring.report import report_table
from metamath.scoring.run import score_predictions

OUT = Path("outputs/demo")


def _sample_predictions(benchmark: str, n: int) -> Path:
    problems = load_benchmark(benchmark, "test", limit=n).problems
    path = OUT / f"{benchmark}_predictions.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        for i, p in enumerate(problems):
            answer = p.gold if i % 2 == 0 else problems[i - 1].gold
            handle.write(json.dumps({"id": p.id, "completion": f"{p.solution}\nThe answer is: {answer}"}) + "\n")
    return path


def main() -> None:
    console = Console()
    for benchmark in ("gsm8k", "math500"):
        predictions = _sample_predictions(benchmark, 50)
        reports = score_predictions(benchmark, str(predictions), str(OUT / benchmark))
        console.print(report_table(reports, title=f"metamath score --benchmark {benchmark}"))
        console.print(f"report: {OUT / benchmark / 'report.json'}  verdicts: {OUT / benchmark / 'verdicts.jsonl'}")


if __name__ == "__main__":
    main()
