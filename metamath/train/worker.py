"""`train_loop_per_worker` for Ray Train's TorchTrainer."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from metamath.config.schema import TrainConfig
from metamath.train.export import gathered_state_dict, save_final
from metamath.train.loop import (
    all_reduce_sum,
    build_engine,
    forward_backward,
    micro_batches,
    skip_lone_all_reduce,
    restore,
    save_checkpoint,
)
from metamath.models import resolve_model
from metamath.train.metrics import MetricsLog, Stopwatch
from metamath.train.model import load_model, load_tokenizer
from metamath.train.checkpoints import RUN_NAME
from metamath.train.plan import MAX_GRAD_NORM, StepPlan, effective_zero_stage, loop_clips_gradients
from metamath.train.storage import local_mirror, upload


def _setup(cfg: TrainConfig) -> None:
    import random
    import warnings

    import numpy as np
    import torch

    # Ray pins OMP_NUM_THREADS to the worker's CPUs; torch must be told on this thread.
    torch.set_num_threads(max(1, int(cfg.resources_per_worker.get("CPU", 1))))
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    # DeepSpeed 0.19 calls collectives torch 2.13 renamed; the warning repeats every step.
    warnings.filterwarnings("ignore", message=r".*(all_gather_into_tensor|reduce_scatter_tensor).*")


@dataclass
class _Training:
    """What every step of one worker's run needs."""

    cfg: TrainConfig
    plan: StepPlan
    engine: Any
    scheduler: Any
    clip: float | None  # the loop clips (MAX_GRAD_NORM) where DeepSpeed cannot
    world: int
    mirror: Any  # local folder for metrics and exports (uploaded when the output is a URI)
    log: MetricsLog | None  # rank 0 only


def train_worker(config: dict[str, Any]) -> None:
    import ray.train

    run, tokenizer, step = _start(config)
    shard = ray.train.get_dataset_shard("train")
    saved = step
    while step < run.plan.total_steps:
        step, saved = _train_epoch(run, shard, step, saved, tokenizer.pad_token_id)
    if saved != step:
        _checkpoint(run, step, {"step": step})
    _export(run.engine, tokenizer, run.cfg, run.mirror, ray.train.get_context().get_world_rank())
    if run.log:
        run.log.close()


def _start(config: dict[str, Any]) -> tuple[_Training, Any, int]:
    """Model, engine and the step to start from (a checkpoint's, or 0)."""
    import ray.train

    cfg, plan = TrainConfig(**config["train"]), StepPlan(**config["plan"])
    _setup(cfg)
    context = ray.train.get_context()
    model_path = resolve_model(config["model_path"])  # on this worker's node: a URI is fetched here once
    tokenizer = load_tokenizer(model_path)
    engine, scheduler = build_engine(cfg, plan, config["deepspeed"], load_model(cfg, model_path, tokenizer))
    skip_lone_all_reduce(engine, effective_zero_stage(cfg))
    step, skipped = restore(engine, f"{cfg.output_dir.rstrip('/')}/{RUN_NAME}")
    first = context.get_world_rank() == 0
    if first:
        for message in skipped:
            sys.stdout.write(f"[train] {message}\n")
        if step:
            sys.stdout.write(f"[train] resumed from the checkpoint at step {step}\n")
    mirror = local_mirror(cfg.output_dir)
    run = _Training(cfg, plan, engine, scheduler, MAX_GRAD_NORM if loop_clips_gradients(cfg) else None,
                    context.get_world_size(), mirror, MetricsLog(mirror, plan.total_steps, step) if first else None)
    return run, tokenizer, step


def _train_epoch(run: _Training, shard: Any, step: int, saved: int, pad_id: int) -> tuple[int, int]:
    """Optimizer steps from `step` to the end of its epoch (or of the run): (step, last step saved)."""
    plan = run.plan
    skip = (step % plan.steps_per_epoch) * plan.accumulation  # a resumed epoch skips what was done
    losses, tokens, started, waited = [], 0, time.time(), Stopwatch()
    for batch in waited.over(micro_batches(shard, run.cfg, plan, step // plan.steps_per_epoch, skip, pad_id)):
        lr = run.scheduler.get_last_lr()[0]
        loss, n, norm = forward_backward(run.engine, batch, run.clip)
        losses.append(loss)
        tokens += n
        if len(losses) < plan.accumulation:
            continue
        step += 1
        row = _step_row(run, step, losses, tokens, lr, norm, started, waited.total)
        if run.log:
            run.log.log(row)
        if (run.cfg.save_every_steps and step % run.cfg.save_every_steps == 0) or step == plan.total_steps:
            _checkpoint(run, step, row)
            saved = step
        losses, tokens, started = [], 0, time.time()
        waited.total = 0.0
        if step >= plan.total_steps:
            break
    return step, saved


def _step_row(run: _Training, step: int, losses: list[float], tokens: int, lr: float, norm: float | None,
              started: float, data_s: float) -> dict[str, Any]:
    """One optimizer step's metrics, summed over the workers (a collective: every rank calls it)."""
    loss_sum, token_sum = all_reduce_sum(run.engine, [sum(losses) / len(losses), tokens])
    elapsed = max(time.time() - started, 1e-9)
    return {"step": step, "loss": loss_sum / run.world, "lr": lr,
            "grad_norm": norm if run.clip else _grad_norm(run.engine), "tokens_per_s": token_sum / elapsed,
            "tokens": int(token_sum), "step_s": round(elapsed, 4), "data_s": round(data_s, 4),
            "epoch": round(step / run.plan.steps_per_epoch, 4)}


def _grad_norm(engine: Any) -> float | None:
    norm = engine.get_global_grad_norm()
    return None if norm is None else float(norm)


def _checkpoint(run: _Training, step: int, row: dict) -> None:
    save_checkpoint(run.engine, step, row)
    if run.log:  # a URI output gets the metrics and events with every checkpoint
        upload(run.log.path, run.cfg.output_dir, "metrics.jsonl")
        upload(run.mirror / "tensorboard", run.cfg.output_dir, "tensorboard")


def _export(engine: Any, tokenizer: Any, cfg: TrainConfig, mirror: Any, rank: int) -> None:
    import torch.distributed as dist

    state = gathered_state_dict(engine, effective_zero_stage(cfg))
    if rank == 0:
        final = save_final(engine.module, state, tokenizer, mirror / "final")
        upload(final, cfg.output_dir, "final")
        sys.stdout.write(f"[train] exported {cfg.output_dir.rstrip('/')}/final\n")
        sys.stdout.flush()
    dist.barrier()
