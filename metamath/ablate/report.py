"""The ablation's results: `ablation.md` (a Table 3-shaped table per size, both scorers, 95%
intervals, and the paired difference of each method set against the baseline with its McNemar
test), `ablation.json`, and the plots `accuracy_vs_size.png` and `table3.png`."""

from __future__ import annotations

import json
from typing import Any

from metamath import storage
from metamath.ablate.grid import Cell, size_label
from metamath.config import MetaMathConfig
from metamath.evaluate.paired import SCORERS, paired_markdown, paired_rows
from metamath.pipeline.state import PipelineState
from metamath.scoring.report import score_cell


def finished_cells(cells: list[Cell], state: PipelineState) -> list[tuple[Cell, dict[str, Any], dict[str, Any]]]:
    """(cell, its train summary, its evaluation reports) for every cell whose evaluation finished."""
    done = []
    for cell in cells:
        if state.finished(f"{cell.name}/evaluate"):
            report = state.stages[f"{cell.name}/evaluate"]["artifacts"]["report"]
            train = state.stages.get(f"{cell.name}/train", {}).get("summary", {})
            done.append((cell, train, json.loads(storage.read_text(report))))
    return done


def cell_rows(done: list[tuple[Cell, dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"cell": cell.name, "method_set": cell.method_set, "methods": list(cell.methods), "size": cell.size,
             "examples": train.get("examples"), "benchmark": name, "n": rep["n"],
             **{scorer: rep[scorer] for scorer in SCORERS}}
            for cell, train, reports in done for name, rep in reports.items()]


def table_markdown(rows: list[dict[str, Any]], size: Any, order: list[str]) -> list[str]:
    """Table 3's shape for one size: a row per method set, a column per benchmark and scorer."""
    chosen = [r for r in rows if r["size"] == size or (not r["methods"] and r["size"] is None)]
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in chosen))
    sets = sorted(dict.fromkeys(r["method_set"] for r in chosen), key=order.index)  # as in ablate.method_sets
    cell = {(r["method_set"], r["benchmark"]): r for r in chosen}
    header = "| method set | methods | examples | " + " | ".join(f"{b} {s}" for b in benchmarks for s in SCORERS) + " |"
    lines = [f"### size {size_label(size)}", "", header, "|---|---|---:|" + "---:|" * (len(benchmarks) * len(SCORERS))]
    for name in sets:
        first = next(r for r in chosen if r["method_set"] == name)
        values = [score_cell(cell[(name, b)][s], cell[(name, b)]["n"]) if (name, b) in cell else "-"
                  for b in benchmarks for s in SCORERS]
        lines.append(f"| {name} | {', '.join(first['methods']) or 'originals only'} | {first['examples'] or '-'} | "
                     + " | ".join(values) + " |")
    return lines


def paired_against_baseline(done, baseline: str, sizeless: bool) -> list[dict[str, Any]]:
    """Each method set against the baseline set of the same size, on the items both scored
    (`sizeless`: the baseline has no methods, SFT, and is one cell for every size)."""
    rows = []
    for size in dict.fromkeys(cell.size for cell, _, _ in done):
        entries = {c.name: (c.name, c.evaluate.output_dir, reports) for c, _, reports in done}
        group = [entries[c.name] for c, _, _ in done if c.size == size]
        base = entries.get(f"{baseline}@{size_label(size)}") or entries.get(f"{baseline}@all" if sizeless else "")
        others = [g for g in group if base is None or g[0] != base[0]]
        if base and others:
            rows += paired_rows([base, *others])
    return rows


def write_ablation_report(cfg: MetaMathConfig, cells: list[Cell], state: PipelineState) -> dict[str, Any]:
    from metamath.ablate.plots import accuracy_vs_size, table3_bars

    acfg = cfg.require("ablate")
    out = acfg.output_dir
    done = finished_cells(cells, state)
    rows = cell_rows(done)
    baseline = acfg.baseline or next(iter(acfg.method_sets))
    paired = paired_against_baseline(done, baseline, not acfg.method_sets[baseline])
    lines = [f"# Ablation: {len(done)} of {len(cells)} cells evaluated", "",
             "Accuracy % [95% Wilson interval] per benchmark and scorer; `examples` = training examples of the cell.", ""]
    for size in dict.fromkeys(r["size"] for r in rows):
        lines += [*table_markdown(rows, size, list(acfg.method_sets)), ""]
    if paired:
        lines += [f"## Paired differences against {baseline} (same size, same items)", "", paired_markdown(paired), ""]
    plots = [p for p in (accuracy_vs_size(rows, storage.join(out, "accuracy_vs_size.png")),
                         table3_bars(rows, storage.join(out, "table3.png"))) if p]
    lines += [f"![{storage.stem(p)}]({storage.name(p)})" for p in plots]
    missing = [c.name for c in cells if c.name not in {d[0].name for d in done}]
    paths = {"markdown": storage.join(out, "ablation.md"), "json": storage.join(out, "ablation.json"), "plots": plots}
    storage.write_text(paths["markdown"], "\n".join(lines) + "\n")
    storage.write_text(paths["json"], json.dumps({"cells": rows, "paired": paired, "baseline": baseline,
                                                  "missing": missing}, indent=2) + "\n")
    print("\n".join(lines[: -len(plots)] if plots else lines), flush=True)
    return {"cells": rows, "paired": paired, "paths": paths}


def accuracy_gains(ablation: dict[str, Any], scorer: str = "paper") -> dict[str, float]:
    """From an ablation.json: each cell's accuracy (mean over its benchmarks) minus its
    baseline's at the same size, keyed by cell name and, at the largest size, by method set
    name too (the names `analyze diversity --gains` matches added sets against)."""
    rows, baseline = ablation["cells"], ablation["baseline"]
    sizeless = any(r["method_set"] == baseline and not r["methods"] for r in rows)  # SFT: one cell for all sizes
    mean: dict[tuple[str, Any], list[float]] = {}
    for r in rows:
        mean.setdefault((r["method_set"], r["size"]), []).append(r[scorer]["accuracy"])
    sizes = {size for _, size in mean}
    largest = None if None in sizes else max(sizes, default=None)
    gains = {}
    for (method_set, size), values in mean.items():
        base = mean.get((baseline, size)) or (mean.get((baseline, None)) if sizeless else None)
        if base is None or method_set == baseline:
            continue
        gain = sum(values) / len(values) - sum(base) / len(base)
        gains[f"{method_set}@{size_label(size)}"] = gain
        if size == largest:
            gains[method_set] = gain
    return gains
