"""Run an ablation grid: every cell trains, then evaluates, as steps recorded in
`ablate_state.json`; a finished step is never run again (a re-run picks up where the grid
stopped, and each step resumes its own partial work: checkpoints, the response store). A cell
that fails is reported and the grid goes on; the report covers every finished cell."""

from __future__ import annotations

import time
import traceback
from typing import Any, Callable, Optional

from metamath import storage
from metamath.ablate.grid import Cell, ablation_data, build_cells, select_cells
from metamath.config import MetaMathConfig
from metamath.errors import DataError, MetaMathError
from metamath.pipeline.state import PipelineState

Step = Callable[[MetaMathConfig, Cell], tuple[dict[str, str], dict[str, Any]]]


def train_step(cfg: MetaMathConfig, cell: Cell) -> tuple[dict[str, str], dict[str, Any]]:
    from metamath.train.job import run_train

    summary = run_train(cfg.model_copy(update={"train": cell.train}))
    return ({"final": summary["final"]},
            {"examples": summary["data"].get("examples"), "selection": summary["data"].get("selection"),
             "steps": summary["plan"]["total_steps"], "last_loss": summary["last_loss"]})


def evaluate_step(cfg: MetaMathConfig, cell: Cell) -> tuple[dict[str, str], dict[str, Any]]:
    from metamath.evaluate.job import run_evaluate

    run_evaluate(cfg.model_copy(update={"evaluate": cell.evaluate}), label=cell.name)
    return {"report": storage.join(cell.evaluate.output_dir, "report.json")}, {}


STEPS: dict[str, Step] = {"train": train_step, "evaluate": evaluate_step}


def run_ablate(cfg: MetaMathConfig, steps: Optional[dict[str, Step]] = None) -> dict[str, Any]:
    from metamath.ablate.report import write_ablation_report

    acfg = cfg.require("ablate")
    cells = build_cells(cfg)
    chosen = select_cells(cells, acfg.cells)
    data = ablation_data(cfg)
    if not storage.is_file(data):
        raise DataError(f"{data}: the augment output the ablation trains on is missing (ablate.data_path)")
    state, started = PipelineState(acfg.output_dir, "ablate_state.json"), time.time()
    failed = [cell.name for i, cell in enumerate(chosen, 1) if not run_cell(cfg, cell, state, f"{i}/{len(chosen)}", steps or STEPS)]
    report = write_ablation_report(cfg, cells, state)
    print(f"[ablate] {len(chosen) - len(failed)} of {len(chosen)} cell(s) done in {time.time() - started:.0f} s this run; "
          f"{report['paths']['markdown']}", flush=True)
    if failed:
        raise MetaMathError(f"{len(failed)} cell(s) failed: {', '.join(failed)}; the report covers the others; "
                            "re-run the same command to retry them (finished steps are kept)")
    return report


def run_cell(cfg: MetaMathConfig, cell: Cell, state: PipelineState, position: str, steps: dict[str, Step]) -> bool:
    """Train, then evaluate, one cell; False when a step failed (its error printed)."""
    for step, runner in steps.items():
        key = f"{cell.name}/{step}"
        if state.finished(key):
            print(f"\n=== [{position}] {key}: finished earlier, skipped ===", flush=True)
            continue
        print(f"\n=== [{position}] {key}: running ===", flush=True)
        try:
            artifacts, summary = runner(cfg, cell)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - one cell must not stop the grid
            print(f"[ablate] {key} failed: {type(exc).__name__}: {exc}", flush=True)
            traceback.print_exc()
            return False
        state.record(key, artifacts, summary)
    return True
