"""Step arithmetic and the DeepSpeed config, both pure functions of the TrainConfig.

The global batch is micro batch x gradient accumulation x workers (the paper's 128).
Every worker reads the same number of rows per epoch (Ray Data's equal split), and an
epoch is cut at the last whole optimizer step so that all workers stay in step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from metamath.config.schema import TrainConfig
from metamath.errors import DataError


MAX_GRAD_NORM = 1.0


@dataclass(frozen=True)
class StepPlan:
    rows: int
    accumulation: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def step_plan(cfg: TrainConfig, rows: int) -> StepPlan:
    accumulation = cfg.global_batch_size // (cfg.micro_batch_size * cfg.num_workers)
    steps_per_epoch = rows // cfg.global_batch_size
    if steps_per_epoch == 0:
        raise DataError(
            f"{rows} training rows are fewer than one global batch (train.global_batch_size={cfg.global_batch_size})"
        )
    # As in HF Trainer, max_steps (when set) overrides epochs; epochs then repeat as needed.
    total = cfg.max_steps or math.ceil(steps_per_epoch * cfg.epochs)
    warmup = math.ceil(total * cfg.warmup_ratio)
    return StepPlan(rows, accumulation, steps_per_epoch, total, warmup)


def effective_zero_stage(cfg: TrainConfig) -> int:
    """The ZeRO stage that runs. Stages 1 and 2 partition optimizer state and gradients across
    workers: with one worker they partition nothing and only add work (gradients copied into
    flat buffers during backward: 12% of a CPU step here), so one worker runs stage 0.
    Optimizer offload needs ZeRO, and stage 3 is kept as asked."""
    if cfg.num_workers == 1 and cfg.zero_stage in (1, 2) and not cfg.offload_optimizer:
        return 0
    return cfg.zero_stage


def loop_clips_gradients(cfg: TrainConfig) -> bool:
    """DeepSpeed clips fp32 stage-0 gradients but keeps no norm to report: there the loop clips
    (at the same point, after the boundary's all-reduce) and logs the norm itself."""
    return effective_zero_stage(cfg) == 0 and cfg.precision == "fp32"


def deepspeed_config(cfg: TrainConfig, plan: StepPlan) -> dict[str, Any]:
    """ZeRO stage, precision and offload from the config. The optimizer and scheduler are
    built by the worker (torch AdamW, transformers' schedules) so that CPU runs need no
    fused CUDA kernels; ZeRO accepts them as client objects."""
    stage = effective_zero_stage(cfg)
    zero: dict[str, Any] = {"stage": stage, "overlap_comm": False, "contiguous_gradients": True}
    if cfg.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": cfg.use_gpu}
    if cfg.offload_params:
        zero["offload_param"] = {"device": "cpu", "pin_memory": cfg.use_gpu}
    if stage == 3:
        # Gather the full 16-bit weights on save, so that the HF export is complete.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_batch_size": cfg.global_batch_size,
        "train_micro_batch_size_per_gpu": cfg.micro_batch_size,
        "gradient_accumulation_steps": plan.accumulation,
        # HF Trainer's max_grad_norm, as the reference ran
        "gradient_clipping": 0.0 if loop_clips_gradients(cfg) else MAX_GRAD_NORM,
        "bf16": {"enabled": cfg.precision == "bf16"},
        "fp16": {"enabled": False},
        "zero_optimization": zero,
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 10**9,  # our own progress line reports
        "wall_clock_breakdown": False,
    }
