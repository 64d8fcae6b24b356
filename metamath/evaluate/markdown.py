"""report.md: the tables (per benchmark, by level and subject, the sampling metrics) and the plots."""

from __future__ import annotations

from typing import Any

from metamath import storage
from metamath.evaluate import plots
from metamath.evaluate.paired import SCORERS
from metamath.scoring.report import percent_with_interval, score_cell


def markdown_tables(reports: dict[str, Any]) -> list[str]:
    """Accuracy % with its 95% Wilson interval in brackets, per benchmark and group."""
    lines = ["| benchmark | n | paper acc % [95% CI] | strict acc % [95% CI] | no answer (paper) | failed requests |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, rep in reports.items():
        failed = rep.get("decode", {}).get("failed", 0)
        lines.append(f"| {name} | {rep['n']} | {score_cell(rep['paper'], rep['n'])} "
                     f"| {score_cell(rep['strict'], rep['n'])} | {rep['missing_answer']['paper']} | {failed} |")
    for name, rep in reports.items():
        for key in ("by_level", "by_subject"):
            if rep.get(key):
                lines += ["", f"**{name} {key.replace('_', ' ')}**", "", "| group | n | paper % [95% CI] | strict % [95% CI] |",
                          "|---|---:|---:|---:|"]
                lines += [f"| {g} | {s['n']} | {percent_with_interval(s['paper'], s['n'])} "
                          f"| {percent_with_interval(s['strict'], s['n'])} |" for g, s in rep[key].items()]
    return lines


def write_markdown(out: str, run: dict[str, Any], reports: dict[str, Any], lengths: dict[str, dict]) -> str:
    images = [plots.accuracy_by(reports, "by_level", storage.join(out, "accuracy_by_level.png")),
              plots.accuracy_by(reports, "by_subject", storage.join(out, "accuracy_by_subject.png")),
              plots.completion_lengths(lengths, storage.join(out, "completion_length.png")),
              plots.missing_answers(reports, storage.join(out, "missing_answer.png"))]
    lines = [f"# Evaluation: {run['model']}", "",
             f"backend `{run['backend']}`, prompt `{run['prompt']}`, greedy; stop strings: {run['stop']}; "
             f"{run['elapsed_s']} s", "", *markdown_tables(reports), *sampling_lines(reports), ""]
    lines += [f"![{storage.stem(image)}]({storage.name(image)})" for image in images if image]
    path = storage.join(out, "report.md")
    storage.write_text(path, "\n".join(lines) + "\n")
    return path


def sampling_lines(reports: dict[str, Any]) -> list[str]:
    """report.md's table: greedy accuracy next to maj@k, pass@1 and pass@k, per scorer."""
    sampled = {name: rep for name, rep in reports.items() if rep.get("sampling", {}).get("n")}
    if not sampled:
        return []
    lines = ["", "**Sampling** (k completions per item at the given temperature; greedy is the headline decode)", "",
             "| benchmark | scorer | k | temperature | greedy % | maj@k % [95% CI] | pass@1 % | pass@k % |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, rep in sampled.items():
        s, k = rep["sampling"], rep["sampling"]["k"]
        for scorer in SCORERS:
            lines.append(f"| {name} | {scorer} | {k} | {s['temperature']} | {100 * rep[scorer]['accuracy']:.1f} "
                         f"| {percent_with_interval(s[scorer][f'maj@{k}'], s['n'])} | {100 * s[scorer]['pass@1']:.1f} "
                         f"| {100 * s[scorer][f'pass@{k}']:.1f} |")
    return lines
