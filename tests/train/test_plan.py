import pytest

from metamath.config.schema import LoraConfig, TrainConfig
from metamath.errors import DataError
from metamath.train.plan import deepspeed_config, step_plan


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
