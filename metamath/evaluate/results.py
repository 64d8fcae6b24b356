"""Evaluation outputs: `<benchmark>/predictions.jsonl`, `report.json` (the schema of
`metamath score`), `report.md` with the tables and plots, and `run.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from metamath.data.benchmarks import Problem
from metamath.evaluate import plots
from metamath.scoring.verdicts import Verdict


def prediction_rows(problems: list[Problem], rows: list[dict], prompts: list[Any], verdicts: list[Verdict]) -> list[dict]:
    out = []
    for problem, row, prompt, verdict in zip(problems, rows, prompts, verdicts):
        out.append({
            "id": problem.id, "question": problem.question, "gold": problem.gold, "prompt": prompt,
            "completion": row.get("text") or "", "status": row["status"], "reason": row.get("reason"),
            "finish_reason": row.get("finish_reason"), "prompt_tokens": int(row.get("prompt_tokens") or 0),
            "completion_tokens": int(row.get("completion_tokens") or 0), **verdict.to_dict(),
        })
    return out


def write_predictions(out: Path, benchmark: str, rows: list[dict]) -> Path:
    path = out / benchmark / "predictions.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def markdown_tables(reports: dict[str, Any]) -> list[str]:
    lines = ["| benchmark | n | paper acc % | strict acc % | no answer (paper) | failed requests |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, rep in reports.items():
        failed = rep.get("decode", {}).get("failed", 0)
        lines.append(f"| {name} | {rep['n']} | {_pct(rep['paper']['accuracy'])} | {_pct(rep['strict']['accuracy'])} "
                     f"| {rep['missing_answer']['paper']} | {failed} |")
    for name, rep in reports.items():
        for key in ("by_level", "by_subject"):
            if rep.get(key):
                lines += ["", f"**{name} {key.replace('_', ' ')}**", "", "| group | n | paper % | strict % |",
                          "|---|---:|---:|---:|"]
                lines += [f"| {g} | {s['n']} | {_pct(s['paper']['accuracy'])} | {_pct(s['strict']['accuracy'])} |"
                          for g, s in rep[key].items()]
    return lines


def write_markdown(out: Path, run: dict[str, Any], reports: dict[str, Any], lengths: dict[str, list[int]]) -> Path:
    images = [plots.accuracy_by(reports, "by_level", out / "accuracy_by_level.png"),
              plots.accuracy_by(reports, "by_subject", out / "accuracy_by_subject.png"),
              plots.completion_lengths(lengths, out / "completion_length.png"),
              plots.missing_answers(reports, out / "missing_answer.png")]
    lines = [f"# Evaluation: {run['model']}", "",
             f"backend `{run['backend']}`, prompt `{run['prompt']}`, greedy; stop strings: {run['stop']}; "
             f"{run['elapsed_s']} s", "", *markdown_tables(reports), ""]
    lines += [f"![{image.stem}]({image.name})" for image in images if image]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
