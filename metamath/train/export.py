"""`final/`: an HF folder (config, safetensors, tokenizer, generation config) that
`AutoModelForCausalLM.from_pretrained` and vLLM load.

ZeRO-3 shards every parameter; the full 16-bit weights are gathered on rank 0 (the same
call DeepSpeed's `stage3_gather_16bit_weights_on_model_save` uses) and the export is
checked against the model's full parameter shapes before anything is written. LoRA
adapters are merged into the base weights; the adapter is saved beside them too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metamath.errors import MetaMathError


class IncompleteExport(MetaMathError):
    pass


def full_shapes(module: Any) -> dict[str, tuple[int, ...]]:
    """Every parameter's full shape, also when ZeRO-3 has partitioned it (ds_shape)."""
    return {name: tuple(getattr(p, "ds_shape", p.shape)) for name, p in module.named_parameters()}


def gathered_state_dict(engine: Any, zero_stage: int) -> dict[str, Any] | None:
    """Collective under ZeRO-3 (every rank must call); the state dict on rank 0, else None."""
    import torch.distributed as dist

    if zero_stage == 3:
        state = engine._zero3_consolidated_16bit_state_dict()
    else:
        state = engine.module.state_dict()
    return state if dist.get_rank() == 0 else None


def check_complete(state: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> None:
    missing = [name for name in shapes if name not in state]
    wrong = [f"{name} {tuple(state[name].shape)} != {shape}"
             for name, shape in shapes.items() if name in state and tuple(state[name].shape) != shape]
    if missing or wrong:
        raise IncompleteExport(f"export incomplete: missing {missing[:5]} wrong shapes {wrong[:5]}")


def save_final(module: Any, state: dict[str, Any], tokenizer: Any, dest: Path) -> Path:
    """Rank 0 only. `module` is the trained model (a PeftModel when LoRA was used)."""
    check_complete(state, full_shapes(module))
    dest.mkdir(parents=True, exist_ok=True)
    if hasattr(module, "merge_and_unload"):  # LoRA: keep the adapter, export merged weights
        module.load_state_dict(state)
        module.save_pretrained(dest / "adapter")
        merged = module.merge_and_unload()
        merged.save_pretrained(dest, safe_serialization=True)
    else:
        module.save_pretrained(dest, state_dict=state, safe_serialization=True)
    tokenizer.save_pretrained(dest)
    _save_generation_config(module, tokenizer, dest)
    return dest


def _save_generation_config(module: Any, tokenizer: Any, dest: Path) -> None:
    from transformers import GenerationConfig

    base = getattr(module, "generation_config", None) or GenerationConfig()
    base.pad_token_id = tokenizer.pad_token_id
    base.eos_token_id = tokenizer.eos_token_id
    base.save_pretrained(dest)
