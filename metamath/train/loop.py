"""The Ray Train worker: DeepSpeed engine, resume, the step loop, checkpoints, export.

Runs inside each TorchTrainer worker; deepspeed is imported here only. Checkpoints hold
DeepSpeed's own (sharded) state under `ds/` plus `trainer_state.json`; every rank saves
its shard to a temporary folder and reports it, and Ray Train merges them into one
checkpoint folder under `output_dir/ray_train/`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Iterator

from metamath.config.schema import TrainConfig
from metamath.train.collate import collate
from metamath.train.plan import StepPlan

DS_TAG = "ds"


def build_engine(cfg: TrainConfig, plan: StepPlan, ds_config: dict, model: Any) -> tuple[Any, Any]:
    import deepspeed
    import torch
    from transformers import get_scheduler

    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    # Empty groups are left out: ZeRO drops them, and the scheduler must see the same groups.
    groups = [g for g in ({"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0})
              if g["params"]]
    if cfg.offload_optimizer:  # ZeRO-Offload steps on the CPU with DeepSpeed's own Adam
        from deepspeed.ops.adam import DeepSpeedCPUAdam

        optimizer = DeepSpeedCPUAdam(groups, lr=cfg.lr, adamw_mode=True)
    else:
        optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    scheduler = get_scheduler(cfg.lr_scheduler if cfg.lr_scheduler != "constant" else "constant_with_warmup",
                              optimizer, num_warmup_steps=plan.warmup_steps, num_training_steps=plan.total_steps)
    engine, _, _, scheduler = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config, dist_init_required=False,
    )
    return engine, scheduler


def restore(engine: Any, run_dir: str) -> tuple[int, list[str]]:
    """(the step of the newest complete checkpoint under `run_dir`, loaded, else 0; messages
    about incomplete ones skipped). Not only Ray Train's own pick (`get_checkpoint`): a run
    killed while a checkpoint was being copied must resume from the one before it."""
    from ray.train import Checkpoint

    from metamath import storage
    from metamath.train.checkpoints import resume_point

    path, step, skipped = resume_point(run_dir)
    if path is None:
        return 0, skipped
    fs, inner = storage.filesystem(path)
    with Checkpoint(inner, filesystem=fs).as_directory() as folder:
        engine.load_checkpoint(folder, tag=DS_TAG, load_module_strict=True)
        return json.loads((Path(folder) / "trainer_state.json").read_text())["step"], skipped


def save_checkpoint(engine: Any, step: int, metrics: dict[str, Any]) -> None:
    import ray.train
    from ray.train import Checkpoint

    from metamath.train.checkpoints import STATE, write_manifest

    context = ray.train.get_context()
    with tempfile.TemporaryDirectory(prefix="metamath-ckpt-") as folder:
        engine.save_checkpoint(folder, tag=DS_TAG)
        if context.get_world_rank() == 0:
            (Path(folder) / STATE).write_text(json.dumps({"step": step, "world_size": context.get_world_size()}))
        write_manifest(folder, context.get_world_rank())  # last: its presence says the rest is whole
        ray.train.report(metrics, checkpoint=Checkpoint.from_directory(folder),
                         checkpoint_dir_name=f"checkpoint_step_{step:08d}")


def micro_batches(shard: Any, cfg: TrainConfig, plan: StepPlan, epoch: int, skip: int, pad_id: int) -> Iterator[dict]:
    """One epoch's micro-batches on this worker, cut at the last whole optimizer step;
    the first `skip` are passed over (resuming inside an epoch)."""
    per_epoch = plan.steps_per_epoch * plan.accumulation
    shuffle = {"local_shuffle_buffer_size": cfg.micro_batch_size * 64, "local_shuffle_seed": cfg.seed + epoch}
    batches = shard.iter_batches(batch_size=cfg.micro_batch_size, batch_format="pyarrow", drop_last=True,
                                 **(shuffle if cfg.shuffle else {}))
    for index, table in enumerate(batches):
        if index >= per_epoch:
            return
        if index >= skip:
            yield collate(table.to_pylist(), pad_id, cfg.packing, cfg.padding_free)


def all_reduce_sum(engine: Any, values: list[float]) -> list[float]:
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=engine.device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def forward_backward(engine: Any, batch: dict[str, Any], clip: float | None) -> tuple[float, int, float | None]:
    """(loss, real tokens, the gradient norm when this loop clipped at an optimizer step)."""
    import torch

    from metamath.train.padding_free import LOSS_TARGETS, target_loss

    n_tokens = batch.pop("n_real", None)
    inputs = {k: v.to(engine.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    loss = target_loss(engine, inputs) if LOSS_TARGETS in inputs else engine(**inputs).loss
    engine.backward(loss)
    norm = None
    if clip and engine.is_gradient_accumulation_boundary():
        norm = float(torch.nn.utils.clip_grad_norm_(engine.module.parameters(), clip))
    engine.step()
    return float(loss.detach()), int(n_tokens if n_tokens is not None else batch["attention_mask"].sum()), norm


def skip_lone_all_reduce(engine: Any, zero_stage: int) -> None:
    """With one process DeepSpeed's stage-0 all-reduce still flattens, reduces and copies back
    every gradient at each optimizer step: nothing to average, so it is switched off. (ZeRO
    stages reduce through their own optimizer epilogue, which must run.)"""
    import torch.distributed as dist

    if zero_stage == 0 and dist.get_world_size() == 1:
        engine.enable_backward_allreduce = False
