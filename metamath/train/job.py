"""`metamath train`: tokenise MetaMathQA with Ray Data, run DeepSpeed workers under Ray
Train, export `final/`. Re-running the same command resumes from the last checkpoint."""

from __future__ import annotations

import json
import time
from typing import Any

from metamath import storage
from metamath.config import MetaMathConfig
from metamath.config.schema import TrainConfig
from metamath.models import check_model, model_reference, resolve_model
from metamath.steps import fingerprint
from metamath.train.checkpoints import RUN_NAME
from metamath.train.dataset import DataStats, build_dataset, persist_tokenized
from metamath.train.model import load_tokenizer
from metamath.train.plan import StepPlan, deepspeed_config, effective_zero_stage, step_plan
from metamath.train.storage import storage_path

SUMMARY = "train_summary.json"  # written last: a run with one has finished


def make_trainer(cfg: TrainConfig, plan: StepPlan, model_path: str, dataset: Any) -> Any:
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from metamath.train.worker import train_worker

    resources = dict(cfg.resources_per_worker) or {"CPU": 1}
    # Workers run in Ray Train's own run folder: a relative output_dir must be made absolute here.
    cfg = cfg.model_copy(update={"output_dir": storage_path(cfg.output_dir)})
    return TorchTrainer(
        train_worker,
        train_loop_config={"train": cfg.model_dump(), "plan": plan.to_dict(), "model_path": model_path,
                           "deepspeed": deepspeed_config(cfg, plan)},
        scaling_config=ScalingConfig(num_workers=cfg.num_workers, use_gpu=cfg.use_gpu, resources_per_worker=resources),
        torch_config=TorchConfig(backend="nccl" if cfg.use_gpu else "gloo"),
        run_config=RunConfig(
            name=RUN_NAME, **ray_train_storage(cfg.output_dir),
            failure_config=FailureConfig(max_failures=cfg.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
        datasets={"train": dataset},
    )


def ray_train_storage(output_dir: str) -> dict[str, Any]:
    """RunConfig's storage: a local folder as an absolute path; a URI as its filesystem and the
    path inside it (an fsspec filesystem such as abfs:// too, which Ray Train cannot infer)."""
    if storage.is_local(output_dir):
        return {"storage_path": storage_path(output_dir)}
    fs, inner = storage.filesystem(output_dir)
    return {"storage_path": inner, "storage_filesystem": fs}


def run_train(cfg: MetaMathConfig) -> dict[str, Any]:
    from metamath.ray_utils import ensure_ray

    tcfg = cfg.require("train")
    started = time.time()
    done = finished_run(tcfg)
    if done is not None:  # nothing to train: no Ray Train start, no workers, no re-export
        print(f"[train] finished earlier with this config and data ({SUMMARY}), skipped; final model: "
              f"{done['final']}", flush=True)
        return done
    model = model_reference(tcfg.model)  # each worker resolves it on its own node (a URI: fetched there)
    check_model(model, "train.model")
    load_tokenizer(resolve_model(model, tokenizer_only=True))  # an unknown or offline model fails here
    ensure_ray()
    dataset, stats = build_dataset(tcfg, model, cfg.data.on_malformed)
    dataset = persist_tokenized(dataset, tcfg.output_dir)  # survives a lost node; read by every (re)start
    plan = step_plan(tcfg, stats.train_rows)
    if stats.selection:
        kept = stats.selection
        print(f"[train] slice: {kept['augmented_kept']} of {kept['of_types']} augmented rows of "
              f"{', '.join(tcfg.types) if tcfg.types is not None else 'every type'} ({kept['augmented_in_file']} "
              f"in the data), {kept['originals_kept']} of {kept['originals_in_file']} original solutions", flush=True)
    print(f"[train] {stats.examples} examples ({stats.truncated} truncated at {tcfg.max_length} tokens, "
          f"{stats.dropped_no_target} dropped) -> {plan.total_steps} steps of {tcfg.global_batch_size} "
          f"on {tcfg.num_workers} worker(s), {_zero_label(tcfg)} {tcfg.precision}", flush=True)
    result = make_trainer(tcfg, plan, model, dataset).fit()
    summary = _summary(tcfg, plan, stats, result, time.time() - started)
    _write_summary(tcfg.output_dir, summary)
    return summary


def run_fingerprint(cfg: TrainConfig) -> str:
    """What decides a run's outcome: its config, and each data file's size and modification time
    (the model's files are in the config by name: a retrained base folder is rarely the case)."""
    paths = [cfg.data_path] if isinstance(cfg.data_path, str) else list(cfg.data_path or [])
    return fingerprint(cfg.model_dump(mode="json"), [storage.stamp(p) for p in paths])


def finished_run(cfg: TrainConfig) -> dict[str, Any] | None:
    """The summary of an earlier run of this config and data, if it finished (the summary is
    written last, after the export) and its final/ is still there; else None."""
    path = storage.join(storage_path(cfg.output_dir), SUMMARY)
    try:
        summary = json.loads(storage.read_text(path)) if storage.is_file(path) else {}
        same = summary.get("fingerprint") == run_fingerprint(cfg)
    except (json.JSONDecodeError, OSError):  # a torn summary or an unreadable data file: train
        return None
    return summary if same and storage.exists(storage_path(summary["final"])) else None


def _zero_label(cfg: TrainConfig) -> str:
    stage = effective_zero_stage(cfg)
    if stage == cfg.zero_stage:
        return f"ZeRO-{stage}"
    return f"ZeRO-{stage} (zero_stage {cfg.zero_stage} partitions nothing on one worker)"


def _summary(cfg: TrainConfig, plan: StepPlan, stats: DataStats, result: Any, elapsed: float) -> dict[str, Any]:
    from metamath.train.metrics import read_metrics

    rows = read_metrics(storage_path(cfg.output_dir))
    return {
        "model": cfg.model, "data_path": cfg.data_path, "plan": plan.to_dict(), "data": stats.to_dict(),
        "final": storage.join(cfg.output_dir, "final"),
        "checkpoint": result.checkpoint.path if result.checkpoint else None,
        "first_loss": rows[0]["loss"] if rows else None, "last_loss": rows[-1]["loss"] if rows else None,
        "elapsed_s": round(elapsed, 1), "fingerprint": run_fingerprint(cfg),
    }


def _write_summary(output_dir: str, summary: dict[str, Any]) -> None:
    storage.write_text(storage.join(storage_path(output_dir), SUMMARY), json.dumps(summary, indent=2) + "\n")
    print(f"[train] done in {summary['elapsed_s']}s; loss {summary['first_loss']} -> {summary['last_loss']}; "
          f"final model: {summary['final']}", flush=True)
