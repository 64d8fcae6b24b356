"""`train_loop_per_worker` for Ray Train's TorchTrainer."""

from __future__ import annotations

import sys
import time
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


def train_worker(config: dict[str, Any]) -> None:
    import ray.train

    cfg, plan = TrainConfig(**config["train"]), StepPlan(**config["plan"])
    _setup(cfg)
    rank = ray.train.get_context().get_world_rank()
    world = ray.train.get_context().get_world_size()
    tokenizer = load_tokenizer(config["model_path"])
    engine, scheduler = build_engine(cfg, plan, config["deepspeed"], load_model(cfg, config["model_path"], tokenizer))
    skip_lone_all_reduce(engine, effective_zero_stage(cfg))
    clip = MAX_GRAD_NORM if loop_clips_gradients(cfg) else None
    step, skipped = restore(engine, f"{cfg.output_dir.rstrip('/')}/{RUN_NAME}")
    if rank == 0:
        for message in skipped:
            sys.stdout.write(f"[train] {message}\n")
        if step:
            sys.stdout.write(f"[train] resumed from the checkpoint at step {step}\n")
    mirror = local_mirror(cfg.output_dir)
    log = MetricsLog(mirror, plan.total_steps, step) if rank == 0 else None
    shard = ray.train.get_dataset_shard("train")
    saved = step
    while step < plan.total_steps:
        epoch = step // plan.steps_per_epoch
        skip = (step % plan.steps_per_epoch) * plan.accumulation
        losses, tokens, started, waited = [], 0, time.time(), Stopwatch()
        for batch in waited.over(micro_batches(shard, cfg, plan, epoch, skip, tokenizer.pad_token_id)):
            lr = scheduler.get_last_lr()[0]
            loss, n, norm = forward_backward(engine, batch, clip)
            losses.append(loss)
            tokens += n
            if len(losses) < plan.accumulation:
                continue
            step += 1
            loss_sum, token_sum = all_reduce_sum(engine, [sum(losses) / len(losses), tokens])
            elapsed = max(time.time() - started, 1e-9)
            row = {"step": step, "loss": loss_sum / world, "lr": lr, "grad_norm": norm if clip else _grad_norm(engine),
                   "tokens_per_s": token_sum / elapsed, "tokens": int(token_sum), "step_s": round(elapsed, 4),
                   "data_s": round(waited.total, 4), "epoch": round(step / plan.steps_per_epoch, 4)}
            if log:
                log.log(row)
            if (cfg.save_every_steps and step % cfg.save_every_steps == 0) or step == plan.total_steps:
                _checkpoint(engine, step, row, log, mirror, cfg)
                saved = step
            losses, tokens, started = [], 0, time.time()
            waited.total = 0.0
            if step >= plan.total_steps:
                break
    if saved != step:
        _checkpoint(engine, step, {"step": step}, log, mirror, cfg)
    _export(engine, tokenizer, cfg, mirror, rank)
    if log:
        log.close()


def _grad_norm(engine: Any) -> float | None:
    norm = engine.get_global_grad_norm()
    return None if norm is None else float(norm)


def _checkpoint(engine: Any, step: int, row: dict, log: Any, mirror: Any, cfg: TrainConfig) -> None:
    save_checkpoint(engine, step, row)
    if log:  # a URI output gets the metrics and events with every checkpoint
        upload(log.path, cfg.output_dir, "metrics.jsonl")
        upload(mirror / "tensorboard", cfg.output_dir, "tensorboard")


def _export(engine: Any, tokenizer: Any, cfg: TrainConfig, mirror: Any, rank: int) -> None:
    import torch.distributed as dist

    state = gathered_state_dict(engine, effective_zero_stage(cfg))
    if rank == 0:
        final = save_final(engine.module, state, tokenizer, mirror / "final")
        upload(final, cfg.output_dir, "final")
        sys.stdout.write(f"[train] exported {cfg.output_dir.rstrip('/')}/final\n")
        sys.stdout.flush()
    dist.barrier()
