"""`metamath analyze difficulty RUN_DIR [RUN_DIR ...]`: how hard the questions were for the teacher
and where the rows went. Reads each augment run's `difficulty.parquet` (per question: trials,
correct, pass rate) and `metamathqa.parquet` (rows per question), and gives, per run and method,
the questions and rows in five pass-rate bins (and by MATH level where known), as a Markdown
table, difficulty.json and a plot (difficulty.png): AnsAug spends its rows on easy questions,
DARS on hard ones."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from metamath import storage
from metamath.errors import DataError

BINS = ((0.0, 0.0, "0 (none right)"), (0.0, 0.25, "(0, 0.25]"), (0.25, 0.5, "(0.25, 0.5]"),
        (0.5, 0.75, "(0.5, 0.75]"), (0.75, 1.0, "(0.75, 1]"))


def bin_of(pass_rate: float) -> str:
    if pass_rate <= 0:
        return BINS[0][2]
    return next(name for low, high, name in BINS[1:] if low < pass_rate <= high)


def _read(run_dir: str) -> tuple[list[dict[str, Any]], Counter]:
    import pyarrow.parquet as pq

    path = storage.join(run_dir, "difficulty.parquet")
    if not storage.is_file(path):
        raise DataError(f"{path}: not found (written by augment runs that sample several solutions per question: "
                        "AnsAug with samples.ansaug > 1, or DARS)")
    fs, inner = storage.filesystem(path)
    questions = pq.read_table(inner, filesystem=fs).to_pylist()
    data = storage.join(run_dir, "metamathqa.parquet")
    fs, inner = storage.filesystem(data)
    rows = Counter(pq.read_table(inner, columns=["source_id"], filesystem=fs)["source_id"].to_pylist())
    return questions, rows


def run_bins(run_dir: str) -> list[dict[str, Any]]:
    """[{run, method, bin, questions, rows, level_counts}] of one run."""
    questions, rows = _read(run_dir)
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for q in questions:
        name = bin_of(q["pass_rate"] or 0.0)
        entry = table.setdefault((q["method"], name), {"questions": 0, "rows": 0, "levels": Counter(),
                                                        "subjects": Counter()})
        entry["questions"] += 1
        entry["rows"] += rows.get(q["question_id"], 0)
        if q.get("level") is not None:
            entry["levels"][f"level {q['level']}"] += 1
        if q.get("subject"):
            entry["subjects"][q["subject"]] += 1
    label = storage.name(run_dir)
    order = [b[2] for b in BINS]
    return [{"run": label, "method": method, "bin": name, "questions": e["questions"], "rows": e["rows"],
             "levels": dict(e["levels"]), "subjects": dict(e["subjects"])} for (method, name), e in sorted(table.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1])))]


def markdown(entries: list[dict[str, Any]]) -> str:
    lines = ["| run | method | pass rate | questions | rows | rows/question | MATH levels | MATH subjects |",
             "|---|---|---|---:|---:|---:|---|---|"]
    for e in entries:
        per = e["rows"] / e["questions"] if e["questions"] else 0.0
        levels = ", ".join(f"{k}: {v}" for k, v in sorted(e["levels"].items())) or "-"
        subjects = ", ".join(f"{k}: {v}" for k, v in sorted(e["subjects"].items())) or "-"
        lines.append(f"| {e['run']} | {e['method']} | {e['bin']} | {e['questions']} | {e['rows']} | {per:.1f} | "
                     f"{levels} | {subjects} |")
    return "\n".join(lines)


def plot(entries: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [b[2] for b in BINS]
    series = sorted({(e["run"], e["method"]) for e in entries})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / max(1, len(series))
    for i, (run, method) in enumerate(series):
        mine = {e["bin"]: e for e in entries if (e["run"], e["method"]) == (run, method)}
        xs = [j + i * width for j in range(len(names))]
        axes[0].bar(xs, [mine.get(n, {}).get("questions", 0) for n in names], width, label=f"{run} ({method})")
        axes[1].bar(xs, [mine.get(n, {}).get("rows", 0) for n in names], width, label=f"{run} ({method})")
    for ax, title in zip(axes, ("questions by the teacher's pass rate", "rows by the question's pass rate")):
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))], names, rotation=20)
        ax.set_title(title)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    with storage.open_output(path) as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)


def analyze_difficulty(run_dirs: list[str], out: str | None = None) -> tuple[str, list[str]]:
    entries = [e for run in run_dirs for e in run_bins(run)]
    out = out or storage.join(run_dirs[0], "analysis")
    table = markdown(entries)
    written = [storage.join(out, name) for name in ("difficulty.md", "difficulty.json", "difficulty.png")]
    storage.write_text(written[0], table + "\n")
    storage.write_text(written[1], json.dumps(entries, indent=2) + "\n")
    plot(entries, written[2])
    return table, written
