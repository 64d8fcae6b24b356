"""Evaluation outputs: `<benchmark>/predictions.jsonl`, `report.json` (the schema of
`metamath score`), `report.md` with the tables and plots, and `run.json`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import ray

from metamath import storage
from metamath.scoring.report import ReportBuilder
from metamath.scoring.verdicts import Verdict

PREDICTION_FIELDS = ("id", "question", "gold", "prompt", "completion", "status", "reason", "finish_reason",
                     "prompt_tokens", "completion_tokens", "paper_answer", "paper_correct", "strict_answer",
                     "strict_correct")
PREDICTION_SCHEMA = pa.schema([
    ("index", pa.int64()), ("id", pa.string()), ("question", pa.string()), ("gold", pa.string()),
    ("prompt_json", pa.string()), ("completion", pa.string()), ("status", pa.string()), ("reason", pa.string()),
    ("finish_reason", pa.string()), ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()),
    ("paper_answer", pa.string()), ("paper_correct", pa.bool_()), ("strict_answer", pa.string()),
    ("strict_correct", pa.bool_()), ("scoring_error", pa.string()), ("subject", pa.string()), ("level", pa.int64()),
    ("paper_f1", pa.float64()), ("strict_f1", pa.float64()), ("sample_index", pa.int64()),
    ("benchmark", pa.string()), ("pass", pa.string()),  # written as folders (decode.score_all)
])
HISTOGRAM_BINS = 30

if TYPE_CHECKING:
    from metamath.generation.accounting import RoundAccount


def decode_stats(run: "RoundAccount") -> dict[str, Any]:
    """`window_s`: first request out to last reply in, so `tokens_per_s` leaves out start-up."""
    window = round(run.window_s, 3)
    return {"sent": run.sent, "succeeded": run.succeeded, "from_cache": run.from_cache, "failed": run.samples_failed,
            "failed_by_reason": dict(run.failed), "lost_with_worker": run.lost, "worker_restarts": run.worker_restarts,
            "prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens, "window_s": window,
            "tokens_per_s": round(run.completion_tokens / window, 2) if window else None}


def safe_verdict(benchmark: str, completion: str, gold: str) -> tuple[Verdict, str | None]:
    """Both scorers on one completion; whatever one completion does, it cannot stop the run:
    a scorer that raises gives "no answer" for that completion, and the error is kept."""
    from metamath.scoring.verdicts import score_one

    try:
        verdict = score_one(benchmark, completion, gold)  # each scorer isolated inside
    except Exception as exc:  # noqa: BLE001 - isolation is the point
        verdict = Verdict(None, False, None, False, f"{type(exc).__name__}: {exc}"[:200])
    return verdict, verdict.scoring_error


def prediction_batch(batch: pa.Table, prompt: str) -> pa.Table:
    """Ray Data `map_batches` body: decoded rows (any benchmark, either pass) -> scored rows."""
    from metamath.data.benchmarks import Problem
    from metamath.evaluate.requests import render

    out = []
    for row in batch.to_pylist():
        meta = json.loads(row["meta"])
        benchmark, completion = meta["benchmark"], row["text"] or ""
        verdict, error = safe_verdict(benchmark, completion, meta["gold"])
        problem = Problem(meta["id"], benchmark, meta["question"], meta["gold"])
        out.append({"index": meta["index"], "id": meta["id"], "question": meta["question"], "gold": meta["gold"],
                    "prompt_json": json.dumps(render(problem, prompt), ensure_ascii=False), "completion": completion,
                    "status": row["status"], "reason": row["reason"], "finish_reason": row["finish_reason"],
                    "prompt_tokens": int(row["prompt_tokens"] or 0), "completion_tokens": int(row["completion_tokens"] or 0),
                    **verdict.to_dict(), "scoring_error": error, "subject": meta.get("subject"),
                    "level": meta.get("level"), "sample_index": int(row.get("sample_index") or 0),
                    "benchmark": benchmark, "pass": meta["pass"]})
    return pa.Table.from_pylist(out, schema=PREDICTION_SCHEMA)


def prediction_line(row: dict[str, Any]) -> dict[str, Any]:
    line = {name: json.loads(row["prompt_json"]) if name == "prompt" else row[name] for name in PREDICTION_FIELDS}
    line.update({name: row[name] for name in ("paper_f1", "strict_f1") if row.get(name) is not None})  # DROP
    return line


@ray.remote(num_cpus=0.25)
def report_from_predictions(scored: str, jsonl_path: str, max_tokens: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One pass over the sorted prediction shards: predictions.jsonl in benchmark order, the
    report's counts, and a histogram of completion lengths."""

    builder, width = ReportBuilder(), max(1, -(-max_tokens // HISTOGRAM_BINS))
    counts, errors = [0] * (HISTOGRAM_BINS + 1), 0
    rows = sorted_rows(scored)
    with storage.open_text_output(jsonl_path) as handle:
        for row in rows:
            handle.write(json.dumps(prediction_line(row), ensure_ascii=False) + "\n")
            builder.add(Verdict(row["paper_answer"], row["paper_correct"], row["strict_answer"], row["strict_correct"],
                                row.get("scoring_error"), row.get("paper_f1"), row.get("strict_f1")),
                        row["subject"], row["level"])
            counts[min(HISTOGRAM_BINS, row["completion_tokens"] // width)] += 1
            errors += row["scoring_error"] is not None
    report = builder.build()
    report["scoring_errors"] = errors
    return report, {"edges": [i * width for i in range(HISTOGRAM_BINS + 2)], "counts": counts}


# Up to this many scored rows (a benchmark's items times its samples: MATH's 5,000 at k=4) are
# sorted in the task that reads them; Ray Data's distributed sort (a sampling pass, then a
# shuffle) cost ~8 s per benchmark even for a few rows, more than the scoring itself.
SORT_IN_ONE_TASK_ROWS = 20_000


def sorted_rows(scored: str):
    """Scored rows by (index, sample_index): shards of up to SORT_IN_ONE_TASK_ROWS rows are
    read whole and sorted; larger ones were written after a Ray Data sort, as ranges read in order."""
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    from metamath.ray_data import shard_files

    fs, found = storage.resolve_many(shard_files(scored))
    rows = {f: pq.ParquetFile(f, filesystem=fs).metadata.num_rows for f in found}
    files = [f for f, n in rows.items() if n]
    if sum(rows.values()) <= SORT_IN_ONE_TASK_ROWS:
        table = pads.dataset(files, format="parquet", filesystem=fs).to_table() if files else None
        if table is not None:
            yield from table.sort_by([("index", "ascending"), ("sample_index", "ascending")]).to_pylist()
        return
    first_index = lambda f: pq.ParquetFile(f, filesystem=fs).read_row_group(0, columns=["index"]).column(0)[0].as_py()  # noqa: E731
    for path in sorted(files, key=first_index):
        for batch in pq.ParquetFile(path, filesystem=fs).iter_batches():
            yield from batch.to_pylist()
