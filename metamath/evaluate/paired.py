"""Paired differences between evaluation runs on the same items: each later run against the
first (e.g. fine-tuned against base), per benchmark and scorer, with a 95% bootstrap interval
and the exact McNemar test, so a real gain can be told from noise at a glance."""

from __future__ import annotations

import json
from typing import Any

from metamath import storage
from metamath.scoring.uncertainty import paired_difference

SCORERS = ("paper", "strict")


def item_verdicts(folder: str, benchmark: str) -> dict[str, dict[str, bool]] | None:
    """id -> {paper, strict} from an evaluate run (`<benchmark>/predictions.jsonl`) or a
    `metamath score` output (`verdicts.jsonl`); None when the run kept no per-item verdicts."""
    for path in (storage.join(folder, benchmark, "predictions.jsonl"), storage.join(folder, "verdicts.jsonl")):
        if storage.is_file(path):
            verdicts = {}
            for line in storage.text_lines(path):
                if line.strip():
                    row = json.loads(line)
                    verdicts[str(row["id"])] = {s: bool(row.get(f"{s}_correct")) for s in SCORERS}
            return verdicts
    return None


def paired_rows(runs: list[tuple[str, str, dict[str, Any]]], resamples: int = 10_000) -> list[dict[str, Any]]:
    """runs: (label, folder, reports). One row per later run x shared benchmark x scorer."""
    (base_label, base_folder, base_reports), rows = runs[0], []
    base = {benchmark: item_verdicts(base_folder, benchmark) for benchmark in base_reports}  # read once
    for label, folder, reports in runs[1:]:
        for benchmark in (b for b in base_reports if b in reports):
            a, b = base[benchmark], item_verdicts(folder, benchmark)
            if a is None or b is None:
                continue
            shared = sorted(a.keys() & b.keys())
            for scorer in SCORERS:
                diff = paired_difference([a[i][scorer] for i in shared], [b[i][scorer] for i in shared], resamples)
                rows.append({"benchmark": benchmark, "scorer": scorer, "a": base_label, "b": label, **diff.to_dict()})
    return rows


def paired_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| benchmark | scorer | runs | items | difference (points) | 95% CI (bootstrap) | McNemar p | real at 5%? |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        lo, hi = r["ci95"]
        lines.append(f"| {r['benchmark']} | {r['scorer']} | {r['a']} -> {r['b']} | {r['n']} "
                     f"| {100 * r['difference']:+.1f} | [{100 * lo:+.1f}, {100 * hi:+.1f}] | {r['mcnemar_p']:.3g} "
                     f"| {'yes' if r['significant'] else 'no'} |")
    return "\n".join(lines)
