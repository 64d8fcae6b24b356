"""`metamath report RUN_DIR [RUN_DIR ...]`: evaluation runs side by side (base vs
fine-tuned, paper vs strict scorer) in one Markdown table and one plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from metamath.errors import DataError
from metamath.evaluate.plots import comparison


def load_run(folder: str | Path) -> tuple[str, dict[str, Any]]:
    folder = Path(folder)
    report = folder / "report.json"
    if not report.is_file():
        raise DataError(f"{folder}: no report.json (not an evaluation run directory)")
    run = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {}
    return run.get("label") or folder.name, json.loads(report.read_text())


def comparison_rows(runs: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"run": label, "benchmark": name, "n": rep["n"], "paper": rep["paper"]["accuracy"],
             "strict": rep["strict"]["accuracy"]} for label, reports in runs for name, rep in reports.items()]


def comparison_markdown(rows: list[dict[str, Any]]) -> str:
    runs = list(dict.fromkeys(r["run"] for r in rows))
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in rows))
    cell = {(r["run"], r["benchmark"]): r for r in rows}
    header = "| benchmark | scorer | " + " | ".join(runs) + " |"
    lines = [header, "|---|---|" + "---:|" * len(runs)]
    for bench in benchmarks:
        for scorer in ("paper", "strict"):
            values = [f"{100 * cell[(run, bench)][scorer]:.1f} (n={cell[(run, bench)]['n']})"
                      if (run, bench) in cell else "-" for run in runs]
            lines.append(f"| {bench} | {scorer} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def compare_runs(folders: list[str], out_dir: str) -> tuple[str, Path]:
    rows = comparison_rows([load_run(f) for f in folders])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = comparison_markdown(rows)
    plot = comparison(rows, out / "comparison.png")
    (out / "comparison.md").write_text(f"# Accuracy (%)\n\n{table}\n\n![comparison]({plot.name})\n")
    return table, out / "comparison.md"
