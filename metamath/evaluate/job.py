"""`metamath evaluate`: decode each benchmark with the chosen backend through Ray Data, score
under both scorers, write predictions, report.json/.md and plots. The driver stays flat in the
number of items: decodes, verdicts and predictions stream to disk as shards, and the report is
counted from them by a task.

Every completion is stored as it arrives (content-keyed, the augment stage's store under
`output_dir/responses/`), so a re-run decodes only what is missing and `metamath score` can
re-score `<benchmark>/predictions.jsonl` later. Completions are on disk before any is scored.
"""

from __future__ import annotations

import json
import time
from collections import Counter
import uuid
from typing import Any

from metamath.augment.accounting import fail_if_nothing_succeeded
from metamath.config import MetaMathConfig
from metamath.config.schema import EvaluateConfig
from metamath.data.benchmarks import load_benchmark
from metamath.evaluate.requests import decoder_config
from metamath.evaluate.decode import decode_and_score
from metamath.evaluate.markdown import write_markdown
from metamath.evaluate.results import decode_stats, report_from_predictions
from metamath.evaluate.sampling import sampling_round
from metamath import storage
from metamath.ray_data import small_dataset
from metamath.scoring.report import report_table, write_report


def evaluate_benchmark(cfg: EvaluateConfig, benchmark: str, data_root: str | None, on_malformed: str,
                       out: str, run_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(report, completion-length histogram) for one benchmark."""
    import ray

    loaded = load_benchmark(benchmark, "test", path=cfg.data_paths.get(benchmark), root=data_root,
                            on_malformed=on_malformed, limit=cfg.limit)
    items = small_dataset([{**p.to_dict(), "index": i} for i, p in enumerate(loaded.problems)])
    decoder = decoder_config(cfg, benchmark)
    decoded, scored, _ = decode_and_score(cfg, benchmark, items, decoder, out, f"{run_id}:{benchmark}")
    # completions are on disk (the store and the decode shards) before scoring
    predictions = storage.join(out, benchmark, "predictions.jsonl")
    report, lengths = ray.get(report_from_predictions.remote(scored, predictions, decoder.max_tokens))
    report["decode"] = decode_stats(decoded.run)
    if cfg.samples > 1:
        report["sampling"] = sampling_round(cfg, benchmark, items, out, run_id)
    return report, lengths


def run_evaluate(cfg: MetaMathConfig, label: str | None = None) -> dict[str, Any]:
    from rich.console import Console

    from metamath.ray_utils import ensure_ray

    ecfg: EvaluateConfig = cfg.require("evaluate")
    started, out = time.time(), ecfg.output_dir
    ensure_ray()
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    reports, lengths = {}, {}
    for benchmark in ecfg.benchmarks:
        reports[benchmark], lengths[benchmark] = evaluate_benchmark(
            ecfg, benchmark, ecfg.data_dir or cfg.data.root, cfg.data.on_malformed, out, run_id)
    stop = decoder_config(ecfg, ecfg.benchmarks[0]).stop
    run = {"label": label or storage.name(out), "model": ecfg.model, "backend": ecfg.backend, "prompt": ecfg.prompt,
           "stop": stop, "benchmarks": ecfg.benchmarks, "limit": ecfg.limit,
           **({"samples": ecfg.samples, "temperature": ecfg.temperature, "top_p": ecfg.top_p} if ecfg.samples > 1 else {}),
           "elapsed_s": round(time.time() - started, 1)}
    write_report(out, reports)
    storage.write_text(storage.join(out, "run.json"), json.dumps(run, indent=2) + "\n")
    write_markdown(out, run, reports, lengths)
    Console().print(report_table(reports, title=f"{run['label']}: {ecfg.model} ({ecfg.backend}, {ecfg.prompt} prompt)"))
    print(f"[evaluate] {out}/report.md, report.json, <benchmark>/predictions.jsonl, plots; {run['elapsed_s']} s")
    decode = [r["decode"] for r in reports.values()]
    fail_if_nothing_succeeded({"sent": sum(d["sent"] for d in decode), "succeeded": sum(d["succeeded"] for d in decode),
                               "failed": dict(sum((Counter(d["failed_by_reason"]) for d in decode), Counter()))},
                              "decoding")
    return {"run": run, "reports": reports}
