"""`metamath evaluate`: every benchmark decoded in one round with the chosen backend through Ray
Data (the model's engines start once per run), scored under both scorers, then predictions,
report.json/.md and plots. The driver stays flat in the number of items: decodes, verdicts and
predictions stream to disk as shards, and each report is counted from them by a task.

    items of every benchmark -> request groups (greedy; sampled with samples > 1) -> one round
      -> work/decode/ -> scored in one pass -> work/scored/benchmark=<b>/pass=<greedy|sampled>/
      -> <benchmark>/predictions.jsonl (and samples.jsonl), report.json, report.md, plots

Every completion is stored as it arrives (content-keyed, the generation layer's store under
`output_dir/responses/`), so a re-run decodes only what is missing and `metamath score` can
re-score `<benchmark>/predictions.jsonl` later. Completions are on disk before any is scored.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import ray

from metamath import storage
from metamath.augment.accounting import fail_if_nothing_succeeded
from metamath.config import MetaMathConfig
from metamath.config.schema import EvaluateConfig
from metamath.data.benchmarks import load_benchmark
from metamath.evaluate.decode import GREEDY, SAMPLED, decode_all, score_all, scored_folder
from metamath.evaluate.markdown import write_markdown
from metamath.evaluate.requests import decoder_config
from metamath.evaluate.results import decode_stats, report_from_predictions
from metamath.evaluate.sampling import sampling_summary
from metamath.generation.accounting import RoundAccount, tally_by_meta
from metamath.ray_data import small_dataset
from metamath.scoring.report import report_table, write_report


def load_items(cfg: EvaluateConfig, data_root: str | None, on_malformed: str):
    """Every benchmark's test items as one small dataset (rows with `benchmark` and `index`)."""
    rows = []
    for benchmark in cfg.benchmarks:
        loaded = load_benchmark(benchmark, "test", path=cfg.data_paths.get(benchmark), root=data_root,
                                on_malformed=on_malformed, limit=cfg.limit)
        rows += [{**p.to_dict(), "benchmark": benchmark, "index": i} for i, p in enumerate(loaded.problems)]
    return small_dataset(rows)


def benchmark_report(cfg: EvaluateConfig, benchmark: str, scored: str, accounts: dict[str, RoundAccount],
                     out: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(report, completion-length histogram) for one benchmark, from its scored folders."""
    predictions = storage.join(out, benchmark, "predictions.jsonl")
    report, lengths = ray.get(report_from_predictions.remote(scored_folder(scored, benchmark, GREEDY), predictions,
                                                             decoder_config(cfg, benchmark).max_tokens))
    report["decode"] = decode_stats(accounts.get(f"{benchmark}/{GREEDY}", RoundAccount()))
    if cfg.samples > 1:
        report["sampling"] = sampling_summary(cfg, benchmark, scored_folder(scored, benchmark, SAMPLED), out,
                                              accounts.get(f"{benchmark}/{SAMPLED}"))
    return report, lengths


def run_evaluate(cfg: MetaMathConfig, label: str | None = None) -> dict[str, Any]:
    from rich.console import Console

    from metamath.ray_utils import ensure_ray

    ecfg: EvaluateConfig = cfg.require("evaluate")
    started, out = time.time(), ecfg.output_dir
    ensure_ray()
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    decoded = decode_all(ecfg, load_items(ecfg, ecfg.data_dir or cfg.data.root, cfg.data.on_malformed), out, run_id)
    scored = score_all(ecfg, decoded, out)  # completions are on disk (the store, the decode shards) first
    accounts = {group: RoundAccount(**found) for group, found in
                ray.get(tally_by_meta.remote(decoded.path, ["benchmark", "pass"])).items()}
    reports, lengths = {}, {}
    for benchmark in ecfg.benchmarks:
        reports[benchmark], lengths[benchmark] = benchmark_report(ecfg, benchmark, scored, accounts, out)
    stop = decoder_config(ecfg, ecfg.benchmarks[0]).stop
    run = {"label": label or storage.name(out), "model": ecfg.model, "backend": ecfg.backend, "prompt": ecfg.prompt,
           "stop": stop, "benchmarks": ecfg.benchmarks, "limit": ecfg.limit,
           **({"samples": ecfg.samples, "temperature": ecfg.temperature, "top_p": ecfg.top_p} if ecfg.samples > 1 else {}),
           "decode": decode_stats(decoded.run), "elapsed_s": round(time.time() - started, 1)}
    write_report(out, reports)
    storage.write_text(storage.join(out, "run.json"), json.dumps(run, indent=2) + "\n")
    write_markdown(out, run, reports, lengths)
    Console().print(report_table(reports, title=f"{run['label']}: {ecfg.model} ({ecfg.backend}, {ecfg.prompt} prompt)"))
    print(f"[evaluate] {out}/report.md, report.json, <benchmark>/predictions.jsonl, plots; {run['elapsed_s']} s")
    fail_if_nothing_succeeded({"sent": run["decode"]["sent"], "succeeded": run["decode"]["succeeded"],
                               "failed": run["decode"]["failed_by_reason"]}, "decoding")
    return {"run": run, "reports": reports}
