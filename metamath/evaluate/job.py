"""`metamath evaluate`: decode each benchmark with the chosen backend through Ray Data,
score under both scorers, write predictions, report.json/.md and plots.

Every completion is stored as it arrives (content-keyed, the augment stage's store under
`output_dir/responses/`), so a re-run decodes only what is missing and `metamath score`
can re-score `<benchmark>/predictions.jsonl` later.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from metamath.config import MetaMathConfig
from metamath.config.schema import EvaluateConfig
from metamath.data.benchmarks import Problem, load_benchmark
from metamath.evaluate.requests import decoder_config, problem_groups, render
from metamath.evaluate.results import prediction_rows, write_markdown, write_predictions
from metamath.scoring.report import benchmark_report, report_table, write_report
from metamath.scoring.verdicts import score_batch
from metamath.teacher.runner import TeacherRun, run_groups


def _decode(problems: list[Problem], cfg: EvaluateConfig, benchmark: str, store: str) -> tuple[list[dict], TeacherRun]:
    decoder = decoder_config(cfg, benchmark)
    run = run_groups(problem_groups(problems, cfg, decoder), decoder, store, f"{benchmark}: decoding")
    by_id = {json.loads(row["meta"])["id"]: row for row in run.rows}
    return [by_id[p.id] for p in problems], run


def _decode_stats(run: TeacherRun) -> dict[str, Any]:
    """`window_s`: first request out to last reply in, so `tokens_per_s` leaves out start-up."""
    window = round(run.window_s, 3)
    return {"sent": run.sent, "from_cache": run.from_cache, "failed": run.samples_failed,
            "prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens, "window_s": window,
            "tokens_per_s": round(run.completion_tokens / window, 2) if window else None}


def evaluate_benchmark(cfg: EvaluateConfig, benchmark: str, data_root: str | None, on_malformed: str,
                       out: Path) -> tuple[dict[str, Any], list[int]]:
    loaded = load_benchmark(benchmark, "test", root=data_root, on_malformed=on_malformed, limit=cfg.limit)
    problems = loaded.problems
    rows, run = _decode(problems, cfg, benchmark, str(out / "responses"))
    verdicts = score_batch(benchmark, [(row.get("text") or "", p.gold) for row, p in zip(rows, problems)])
    prompts = [render(p, cfg.prompt) for p in problems]
    write_predictions(out, benchmark, prediction_rows(problems, rows, prompts, verdicts))
    report = benchmark_report(problems, verdicts)
    report["decode"] = _decode_stats(run)
    return report, [int(row.get("completion_tokens") or 0) for row in rows]


def run_evaluate(cfg: MetaMathConfig, label: str | None = None) -> dict[str, Any]:
    from rich.console import Console

    from metamath.ray_utils import ensure_ray

    ecfg: EvaluateConfig = cfg.require("evaluate")
    started, out = time.time(), Path(ecfg.output_dir)
    ensure_ray()
    reports, lengths = {}, {}
    for benchmark in ecfg.benchmarks:
        reports[benchmark], lengths[benchmark] = evaluate_benchmark(
            ecfg, benchmark, ecfg.data_dir or cfg.data.root, cfg.data.on_malformed, out)
    stop = decoder_config(ecfg, ecfg.benchmarks[0]).stop
    run = {"label": label or out.name, "model": ecfg.model, "backend": ecfg.backend, "prompt": ecfg.prompt,
           "stop": stop, "benchmarks": ecfg.benchmarks, "limit": ecfg.limit,
           "elapsed_s": round(time.time() - started, 1)}
    write_report(out, reports)
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    write_markdown(out, run, reports, lengths)
    Console().print(report_table(reports, title=f"{run['label']}: {ecfg.model} ({ecfg.backend}, {ecfg.prompt} prompt)"))
    print(f"[evaluate] {out}/report.md, report.json, <benchmark>/predictions.jsonl, plots; {run['elapsed_s']} s")
    return {"run": run, "reports": reports}
