import pytest

from metamath.config.schema import LoraConfig, TrainConfig
from metamath.errors import DataError
from metamath.train.plan import deepspeed_config, effective_zero_stage, loop_clips_gradients, step_plan


def test_paper_recipe_step_arithmetic():
    cfg = TrainConfig(micro_batch_size=4, global_batch_size=128, num_workers=8, epochs=3, warmup_ratio=0.03)
    plan = step_plan(cfg, 395_000)
    assert plan.accumulation == 4 and plan.steps_per_epoch == 3085
    assert plan.total_steps == 9255 and plan.warmup_steps == 278  # the method doc's ~9.26K steps


def test_max_steps_overrides_epochs_and_too_little_data_fails():
    cfg = TrainConfig(micro_batch_size=2, global_batch_size=4, max_steps=50, epochs=1)
    assert step_plan(cfg, 40).total_steps == 50
    with pytest.raises(DataError, match="fewer than one global batch"):
        step_plan(cfg, 3)


def test_deepspeed_config_from_train_config():
    cfg = TrainConfig(micro_batch_size=2, global_batch_size=16, num_workers=2, zero_stage=3, precision="bf16",
                      offload_optimizer=True)
    ds = deepspeed_config(cfg, step_plan(cfg, 64))
    assert ds["train_batch_size"] == 16 and ds["gradient_accumulation_steps"] == 4
    assert ds["train_micro_batch_size_per_gpu"] == 2 and ds["bf16"]["enabled"]
    zero = ds["zero_optimization"]
    assert zero["stage"] == 3 and zero["stage3_gather_16bit_weights_on_model_save"]
    assert zero["offload_optimizer"]["device"] == "cpu" and "offload_param" not in zero
    ds2 = deepspeed_config(TrainConfig(zero_stage=2, precision="fp32", micro_batch_size=4), step_plan(TrainConfig(micro_batch_size=4), 256))
    assert not ds2["bf16"]["enabled"] and "stage3_gather_16bit_weights_on_model_save" not in ds2["zero_optimization"]


def test_lora_with_zero3_is_refused():
    with pytest.raises(ValueError, match="lora needs zero_stage 0-2"):
        TrainConfig(zero_stage=3, lora=LoraConfig())


def test_one_worker_runs_stage_0_unless_offload_or_stage_3_needs_zero():
    one = dict(micro_batch_size=2, global_batch_size=8, precision="fp32")
    assert effective_zero_stage(TrainConfig(zero_stage=2, **one)) == 0
    assert effective_zero_stage(TrainConfig(zero_stage=1, **one)) == 0
    assert effective_zero_stage(TrainConfig(zero_stage=2, num_workers=2, **one)) == 2
    assert effective_zero_stage(TrainConfig(zero_stage=2, offload_optimizer=True, **one)) == 2
    assert effective_zero_stage(TrainConfig(zero_stage=3, **one)) == 3
    cfg = TrainConfig(zero_stage=2, **one)
    ds = deepspeed_config(cfg, step_plan(cfg, 64))
    # fp32 stage 0: the loop clips (and logs the norm); elsewhere DeepSpeed clips at 1.0
    assert ds["zero_optimization"]["stage"] == 0 and ds["gradient_clipping"] == 0.0 and loop_clips_gradients(cfg)
    bf16 = TrainConfig(zero_stage=2, **{**one, "precision": "bf16"})
    assert deepspeed_config(bf16, step_plan(bf16, 64))["gradient_clipping"] == 1.0 and not loop_clips_gradients(bf16)
    two = TrainConfig(zero_stage=2, num_workers=2, **one)
    assert deepspeed_config(two, step_plan(two, 64))["gradient_clipping"] == 1.0
