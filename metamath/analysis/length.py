"""`metamath analyze length RUN_DIR`: accuracy by question length (the paper's Fig. 7).

Each benchmark's items are sorted by question length in words (whitespace-separated, so the
bins do not depend on a tokenizer) and cut into three bins of equal size (sizes differ by at
most one item; ties in length are broken by item id, so the cut is deterministic). Each bin
gets both scorers' accuracy with its 95% Wilson interval.
"""

from __future__ import annotations

import json
from typing import Any

from metamath import storage
from metamath.errors import DataError
from metamath.scoring.report import percent_with_interval, scorer_entry

BIN_NAMES = ("short", "medium", "long")


def _items(run_dir: str, benchmark: str) -> list[dict[str, Any]]:
    path = storage.join(run_dir, benchmark, "predictions.jsonl")
    if not storage.is_file(path):
        raise DataError(f"{path}: not found (an evaluation run keeps <benchmark>/predictions.jsonl)")
    rows = [json.loads(line) for line in storage.text_lines(path) if line.strip()]
    return [{"id": str(r["id"]), "words": len(str(r["question"]).split()),
             "paper": bool(r.get("paper_correct")), "strict": bool(r.get("strict_correct"))} for r in rows]


def length_bins(items: list[dict[str, Any]], bins: int = 3) -> list[dict[str, Any]]:
    """[{bin, words: [min, max], n, paper: {accuracy, correct, ci95}, strict: {...}}] short to long."""
    ordered = sorted(items, key=lambda item: (item["words"], item["id"]))
    size, extra = divmod(len(ordered), bins)
    out, start = [], 0
    for index in range(bins):
        part = ordered[start:start + size + (index < extra)]
        start += len(part)
        if not part:
            continue
        out.append({"bin": BIN_NAMES[index] if bins == 3 else str(index), "words": [part[0]["words"], part[-1]["words"]],
                    "n": len(part), **{s: scorer_entry(sum(i[s] for i in part), len(part)) for s in ("paper", "strict")}})
    return out


def analyze_length(run_dir: str, out_dir: str | None = None) -> tuple[str, list[str]]:
    """Writes length.md, length.json and length.png; returns the Markdown table and the files."""
    report = storage.join(run_dir, "report.json")
    if not storage.is_file(report):
        raise DataError(f"{run_dir}: no report.json (not an evaluation run directory)")
    result = {name: length_bins(_items(run_dir, name)) for name in json.loads(storage.read_text(report))}
    out = out_dir or storage.join(run_dir, "analysis")
    written = [storage.join(out, name) for name in ("length.md", "length.json", "length.png")]
    storage.write_text(written[1], json.dumps(result, indent=2) + "\n")
    table = length_markdown(result)
    length_plot(result, written[2])
    storage.write_text(written[0], f"# Accuracy by question length (% [95% CI])\n\n{table}\n\n![length](length.png)\n")
    return table, written


def length_markdown(result: dict[str, list[dict[str, Any]]]) -> str:
    lines = ["| benchmark | bin | words | n | paper % | strict % |", "|---|---|---|---:|---:|---:|"]
    for name, bins in result.items():
        lines += [f"| {name} | {b['bin']} | {b['words'][0]}-{b['words'][1]} | {b['n']} "
                  f"| {percent_with_interval(b['paper'], b['n'])} | {percent_with_interval(b['strict'], b['n'])} |"
                  for b in bins]
    return "\n".join(lines)


def length_plot(result: dict[str, list[dict[str, Any]]], path: str) -> str:
    from metamath.evaluate.plots import grouped_bars, pyplot, save
    from metamath.scoring.report import interval

    plt = pyplot()
    fig, axes = plt.subplots(1, len(result), figsize=(5 * len(result), 4), squeeze=False)
    for ax, (name, bins) in zip(axes[0], result.items()):
        groups = [f"{b['bin']}\n{b['words'][0]}-{b['words'][1]} words" for b in bins]
        grouped_bars(ax, groups, {s: [b[s]["accuracy"] for b in bins] for s in ("paper", "strict")},
                      {s: [interval(b[s], b["n"]) for b in bins] for s in ("paper", "strict")})
        ax.set_title(f"{name}: accuracy by question length")
    return save(fig, path)
