"""PNG plots for an evaluation run and for a comparison of runs (matplotlib, Agg)."""

from __future__ import annotations

import io
from typing import Any

from metamath import storage
from metamath.scoring.report import interval


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: str) -> str:
    """Lay out, write the PNG (a local path or a URI), free the figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    storage.write_bytes(path, png.getvalue())
    return path


def grouped_bars(ax: Any, groups: list[str], series: dict[str, list[float]],
                  intervals: dict[str, list[tuple[float, float]]] | None = None) -> None:
    """Bars per group and series; `intervals` (per series, (low, high) per group) become error bars."""
    width = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series.items()):
        bounds = (intervals or {}).get(label)
        yerr = None if bounds is None else [[max(0.0, v - lo) for v, (lo, _) in zip(values, bounds)],
                                            [max(0.0, hi - v) for v, (_, hi) in zip(values, bounds)]]
        bars = ax.bar([g + i * width for g in range(len(groups))], values, width, label=label, yerr=yerr, capsize=3)
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize=7)  # zero bars stay readable
    ax.set_xticks([g + width * (len(series) - 1) / 2 for g in range(len(groups))], groups, rotation=30, ha="right")
    ax.set_ylim(0, 1.1)  # room for the labels of full bars
    ax.legend()


def accuracy_by(reports: dict[str, Any], key: str, path: str) -> str | None:
    """Paper vs strict accuracy by MATH level or subject, one panel per benchmark that has them."""
    names = [name for name, rep in reports.items() if rep.get(key)]
    if not names:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        groups, cells = list(reports[name][key]), reports[name][key]
        grouped_bars(ax, groups, {s: [cells[g][s]["accuracy"] for g in groups] for s in ("paper", "strict")},
                      {s: [interval(cells[g][s], cells[g]["n"]) for g in groups] for s in ("paper", "strict")})
        ax.set_title(f"{name}: accuracy {key.replace('_', ' ')} (95% Wilson intervals)")
    return save(fig, path)


def completion_lengths(histograms: dict[str, dict], path: str) -> str:
    """histograms: benchmark -> {edges, counts} (counted while streaming the predictions)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, hist in histograms.items():
        ax.stairs(hist["counts"], hist["edges"], fill=True, alpha=0.6, label=name)
    ax.set_xlabel("completion tokens")
    ax.set_ylabel("items")
    ax.legend()
    return save(fig, path)


def missing_answers(reports: dict[str, Any], path: str) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    names = list(reports)
    grouped_bars(ax, names, {
        "no 'The answer is' (paper)": [reports[n]["missing_answer"]["paper"] / max(1, reports[n]["n"]) for n in names],
        "no answer marker (strict)": [reports[n]["missing_answer"]["strict"] / max(1, reports[n]["n"]) for n in names],
    })
    ax.set_ylabel("fraction of completions")
    return save(fig, path)


def comparison(rows: list[dict[str, Any]], path: str) -> str:
    """rows: {run, benchmark, paper, strict, paper_ci95, strict_ci95}; one bar group per
    benchmark x scorer, with 95% intervals as error bars."""
    plt = pyplot()
    runs = list(dict.fromkeys(r["run"] for r in rows))
    groups = list(dict.fromkeys(f"{r['benchmark']} ({s})" for r in rows for s in ("paper", "strict")))
    value = {(r["run"], f"{r['benchmark']} ({s})"): r[s] for r in rows for s in ("paper", "strict")}
    bounds = {(r["run"], f"{r['benchmark']} ({s})"): r[f"{s}_ci95"] for r in rows for s in ("paper", "strict")}
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups)), 4))
    grouped_bars(ax, groups, {run: [value.get((run, g), 0.0) for g in groups] for run in runs},
                  {run: [bounds.get((run, g), (0.0, 0.0)) for g in groups] for run in runs})
    ax.set_ylabel("accuracy (95% Wilson interval)")
    return save(fig, path)
