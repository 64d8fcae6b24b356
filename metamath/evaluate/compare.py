"""`metamath report RUN_DIR [RUN_DIR ...]`: evaluation runs side by side (base vs
fine-tuned, paper vs strict scorer) in one Markdown table with 95% intervals, the paired
differences against the first run (bootstrap interval, McNemar test), and one plot."""

from __future__ import annotations

import json
from typing import Any

from metamath import storage
from metamath.errors import DataError
from metamath.evaluate.paired import paired_markdown, paired_rows
from metamath.evaluate.plots import comparison
from metamath.scoring.report import interval, percent_with_interval


def load_run(folder: str) -> tuple[str, dict[str, Any]]:
    report, run_json = storage.join(folder, "report.json"), storage.join(folder, "run.json")
    if not storage.is_file(report):
        raise DataError(f"{folder}: no report.json (not an evaluation run directory)")
    run = json.loads(storage.read_text(run_json)) if storage.is_file(run_json) else {}
    return run.get("label") or storage.name(folder), json.loads(storage.read_text(report))


def comparison_rows(runs: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"run": label, "benchmark": name, "n": rep["n"], "paper": rep["paper"]["accuracy"],
             "strict": rep["strict"]["accuracy"], "paper_ci95": interval(rep["paper"], rep["n"]),
             "strict_ci95": interval(rep["strict"], rep["n"]), "cells": {s: rep[s] for s in ("paper", "strict")}}
            for label, reports in runs for name, rep in reports.items()]


def comparison_markdown(rows: list[dict[str, Any]]) -> str:
    runs = list(dict.fromkeys(r["run"] for r in rows))
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in rows))
    cell = {(r["run"], r["benchmark"]): r for r in rows}
    header = "| benchmark | scorer | " + " | ".join(runs) + " |"
    lines = [header, "|---|---|" + "---:|" * len(runs)]
    for bench in benchmarks:
        for scorer in ("paper", "strict"):
            values = [f"{percent_with_interval(cell[(run, bench)]['cells'][scorer], cell[(run, bench)]['n'])} "
                      f"(n={cell[(run, bench)]['n']})" if (run, bench) in cell else "-" for run in runs]
            lines.append(f"| {bench} | {scorer} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def compare_runs(folders: list[str], out_dir: str) -> tuple[str, str]:
    runs = [load_run(f) for f in folders]
    rows = comparison_rows(runs)
    paired = paired_rows([(label, folder, reports) for (label, reports), folder in zip(runs, folders)])
    table = comparison_markdown(rows)
    plot = comparison(rows, storage.join(out_dir, "comparison.png"))
    text = f"# Accuracy (%) [95% Wilson interval]\n\n{table}\n\n![comparison]({storage.name(plot)})\n"
    if paired:
        table += "\n\npaired, on the items both runs scored:\n\n" + paired_markdown(paired)
        text += f"\n## Paired differences against {runs[0][0]}\n\n{paired_markdown(paired)}\n"
    accuracy = [{k: v for k, v in r.items() if k != "cells"} for r in rows]
    storage.write_text(storage.join(out_dir, "comparison.md"), text)
    storage.write_text(storage.join(out_dir, "comparison.json"),
                       json.dumps({"accuracy": accuracy, "paired": paired}, indent=2) + "\n")
    return table, storage.join(out_dir, "comparison.md")
