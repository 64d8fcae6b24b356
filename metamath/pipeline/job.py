"""Run the pipeline's stages in order, skip finished ones, end with the comparison."""

from __future__ import annotations

import time
from typing import Any

from metamath import storage
from metamath.config import MetaMathConfig
from metamath.pipeline.run import plan, wire
from metamath.pipeline.state import PipelineState


def _banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def run_pipeline(cfg: MetaMathConfig) -> dict[str, Any]:
    cfg = wire(cfg)
    pipe = cfg.require("pipeline")
    state, started = PipelineState(pipe.output_dir), time.time()
    for name, section, runner in plan(cfg):
        cfg.require(section)
        if state.finished(name):
            _banner(f"{name}: finished earlier, skipped ({state.path})")
            continue
        _banner(f"{name}: running")
        artifacts, summary = runner(cfg)
        state.record(name, artifacts, summary)
    return _finish(cfg, state, time.time() - started)


def _finish(cfg: MetaMathConfig, state: PipelineState, elapsed: float) -> dict[str, Any]:
    from metamath.evaluate.compare import compare_runs

    runs = [storage.parent(state.stages[s]["artifacts"]["report"])
            for s in ("evaluate_base", "evaluate_finetuned") if s in state.stages]
    table = None
    if runs:
        table, comparison_md = compare_runs(runs, storage.join(cfg.pipeline.output_dir, "comparison"))
        _banner("base vs fine-tuned, accuracy % (paper and strict scorers)")
        print(table)
    _banner(f"artifacts (pipeline {elapsed:.0f} s this run)")
    for stage, record in state.stages.items():
        for name, artifact in record["artifacts"].items():
            print(f"{stage:20s} {name:12s} {artifact}")
    if runs:
        print(f"{'comparison':20s} {'table/plot':12s} {comparison_md} , "
              f"{storage.join(storage.parent(comparison_md), 'comparison.png')}")
    return {"stages": state.stages, "comparison": table}
