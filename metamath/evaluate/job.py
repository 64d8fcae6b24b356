"""`metamath evaluate`: every benchmark decoded in one round with the chosen backend through Ray
Data (the model's engines start once per run), scored under both scorers, then predictions,
report.json/.md and plots. The driver stays flat in the number of items: decodes, verdicts and
predictions stream to disk as shards, and each report is counted from them by a task.

    decode: items of every benchmark -> request groups (greedy; sampled with samples > 1) -> one round
      -> work/decode/;  score: in one pass -> work/scored/benchmark=<b>/pass=<greedy|sampled>/
      -> <benchmark>/predictions.jsonl (and samples.jsonl), report.json, report.md, plots

Every completion is stored as it arrives (content-keyed, the generation layer's store under
`output_dir/responses/`), so a re-run decodes only what is missing and `metamath score` can
re-score `<benchmark>/predictions.jsonl` later. Completions are on disk before any is scored.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict
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
from metamath.generation.round import Round
from metamath.models import model_signature
from metamath.ray_data import small_dataset
from metamath.scoring.report import report_table, write_report
from metamath.steps import Step, StepResult, fingerprint, run_steps, step_summary


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


def evaluate_steps(cfg: MetaMathConfig, ecfg: EvaluateConfig, run_id: str) -> list[Step]:
    """decode (every benchmark, both passes, one round) -> score (both scorers, in one pass).
    A finished step of an earlier run of the same config is skipped (work/steps.json)."""
    out = ecfg.output_dir

    def decode(results: dict[str, StepResult]) -> StepResult:
        items = load_items(ecfg, ecfg.data_dir or cfg.data.root, cfg.data.on_malformed)
        done = decode_all(ecfg, items, out, run_id)
        accounts = ray.get(tally_by_meta.remote(done.path, ["benchmark", "pass"]))
        stats = {"rows": done.rows, "account": asdict(done.run), "groups": accounts}
        return StepResult(stats, done.path, not done.run.samples_failed, (done, accounts))

    def restore_decode(entry: dict[str, Any]) -> StepResult:
        stats = entry["stats"]  # as a re-run reads it: every completion from the store
        done = Round(entry["output"], RoundAccount(**stats["account"]).as_cached(), stats["rows"])
        accounts = {group: asdict(RoundAccount(**found).as_cached()) for group, found in stats["groups"].items()}
        return StepResult(stats, entry["output"], True, (done, accounts))

    def score(results: dict[str, StepResult]) -> StepResult:
        scored = score_all(ecfg, results["decode"].value[0], out)  # completions are on disk first
        return StepResult({}, scored, True, scored)

    return [Step("decode", decode, restore_decode),
            Step("score", score, lambda entry: StepResult({}, entry["output"], True, entry["output"]))]


def run_evaluate(cfg: MetaMathConfig, label: str | None = None) -> dict[str, Any]:
    from rich.console import Console

    from metamath.ray_utils import ensure_ray

    ecfg: EvaluateConfig = cfg.require("evaluate")
    started, out = time.time(), ecfg.output_dir
    ensure_ray()
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    work = storage.join(out, "work")
    identity = fingerprint(ecfg.model_dump(mode="json"), cfg.data.model_dump(mode="json"), model_signature(ecfg.model))
    results = run_steps(evaluate_steps(cfg, ecfg, run_id), work, identity)
    (decoded, found), scored = results["decode"].value, results["score"].value
    accounts = {group: RoundAccount(**account) for group, account in found.items()}
    reports, lengths = {}, {}
    for benchmark in ecfg.benchmarks:
        reports[benchmark], lengths[benchmark] = benchmark_report(ecfg, benchmark, scored, accounts, out)
    stop = decoder_config(ecfg, ecfg.benchmarks[0]).stop
    run = {"label": label or storage.name(out), "model": ecfg.model, "backend": ecfg.backend, "prompt": ecfg.prompt,
           "stop": stop, "benchmarks": ecfg.benchmarks, "limit": ecfg.limit,
           **({"samples": ecfg.samples, "temperature": ecfg.temperature, "top_p": ecfg.top_p} if ecfg.samples > 1 else {}),
           "decode": decode_stats(decoded.run), "steps": step_summary(storage.join(work, "steps.json")),
           "elapsed_s": round(time.time() - started, 1)}
    write_report(out, reports)
    storage.write_text(storage.join(out, "run.json"), json.dumps(run, indent=2) + "\n")
    write_markdown(out, run, reports, lengths)
    Console().print(report_table(reports, title=f"{run['label']}: {ecfg.model} ({ecfg.backend}, {ecfg.prompt} prompt)"))
    print(f"[evaluate] {out}/report.md, report.json, <benchmark>/predictions.jsonl, plots; {run['elapsed_s']} s")
    fail_if_nothing_succeeded({"sent": run["decode"]["sent"], "succeeded": run["decode"]["succeeded"],
                               "failed": run["decode"]["failed_by_reason"]}, "decoding")
    return {"run": run, "reports": reports}
