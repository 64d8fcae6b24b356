"""The ablation's plots: accuracy against data size (Fig. 2's shape, a line per method set) and
accuracy per method set (Table 3's shape, bars per benchmark), both with 95% intervals."""

from __future__ import annotations

from typing import Any

from metamath.evaluate.paired import SCORERS
from metamath.evaluate.plots import grouped_bars, pyplot, save
from metamath.scoring.report import interval


def accuracy_vs_size(rows: list[dict[str, Any]], path: str) -> str | None:
    """One panel per benchmark x scorer; x = training examples of the cell (its size)."""
    sized = [r for r in rows if r.get("examples")]
    if len({r["size"] for r in sized}) < 2:
        return None  # one size: no curve to draw
    panels = [(b, s) for b in dict.fromkeys(r["benchmark"] for r in sized) for s in SCORERS]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (benchmark, scorer) in zip(axes[0], panels):
        for method_set in dict.fromkeys(r["method_set"] for r in sized):
            flat = [r for r in sized if r["benchmark"] == benchmark and r["method_set"] == method_set and not r["methods"]]
            if flat:  # the originals alone (SFT): one cell for every size, a reference level
                low, high = interval(flat[0][scorer], flat[0]["n"])
                ax.axhline(flat[0][scorer]["accuracy"], linestyle="--", color="gray", label=f"{method_set} (originals)")
                ax.axhspan(low, high, color="gray", alpha=0.15)
                continue
            line = sorted((r for r in sized if r["benchmark"] == benchmark and r["method_set"] == method_set),
                          key=lambda r: r["examples"])
            xs, ys = [r["examples"] for r in line], [r[scorer]["accuracy"] for r in line]
            bounds = [interval(r[scorer], r["n"]) for r in line]
            ax.errorbar(xs, ys, yerr=[[y - lo for y, (lo, _) in zip(ys, bounds)], [hi - y for y, (_, hi) in zip(ys, bounds)]],
                        marker="o", capsize=3, label=method_set)
        ax.set_xscale("log")
        ticks = sorted({r["examples"] for r in sized if r["methods"]})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("training examples")
        ax.set_ylabel("accuracy (95% Wilson interval)")
        ax.set_title(f"{benchmark} ({scorer})")
        ax.legend()
    return save(fig, path)


def table3_bars(rows: list[dict[str, Any]], path: str) -> str | None:
    """At the largest size (`all` when present): a bar per method set, a group per benchmark x scorer."""
    if not rows:
        return None
    sizes = {r["size"] for r in rows}
    size = None if None in sizes else max(sizes)
    chosen = [r for r in rows if r["size"] == size]
    groups = list(dict.fromkeys(f"{r['benchmark']} ({s})" for r in chosen for s in SCORERS))
    value = {(r["method_set"], f"{r['benchmark']} ({s})"): r[s] for r in chosen for s in SCORERS}
    n = {(r["method_set"], f"{r['benchmark']} ({s})"): r["n"] for r in chosen for s in SCORERS}
    sets = list(dict.fromkeys(r["method_set"] for r in chosen))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(groups) * max(1, len(sets) / 3)), 4))
    grouped_bars(ax, groups, {m: [value[(m, g)]["accuracy"] if (m, g) in value else 0.0 for g in groups] for m in sets},
                 {m: [interval(value[(m, g)], n[(m, g)]) if (m, g) in value else (0.0, 0.0) for g in groups] for m in sets})
    ax.set_ylabel("accuracy (95% Wilson interval)")
    ax.set_title(f"method ablation (Table 3), size {'all' if size is None else size}")
    return save(fig, path)
