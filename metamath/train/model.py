"""Build the student on a worker: tokenizer with a pad token, model, optional LoRA/QLoRA,
gradient checkpointing. Imports of torch/transformers/peft stay inside the functions so
the driver never needs them loaded."""

from __future__ import annotations

from typing import Any

from metamath.config.schema import TrainConfig
from metamath.errors import ConfigError, ModelNotAvailable

DEFAULT_PAD = "[PAD]"  # the reference adds this token when the tokenizer has none


def load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ModelNotAvailable(f"train.model {path!r}: cannot load the tokenizer ({exc})") from None
    tokenizer.padding_side = "right"
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": DEFAULT_PAD})
    return tokenizer


def _quantization(cfg: TrainConfig) -> dict[str, Any]:
    if not (cfg.lora and cfg.lora.load_in_4bit):
        return {}
    if not cfg.use_gpu:
        raise ConfigError("train.lora.load_in_4bit (QLoRA) needs train.use_gpu: true (bitsandbytes is GPU-only)")
    import torch
    from transformers import BitsAndBytesConfig

    return {"quantization_config": BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )}


def _attention(cfg: TrainConfig) -> str | None:
    if cfg.padding_free:
        from metamath.train.padding_free import ATTENTION, register_attention

        register_attention()
        return ATTENTION
    return "sdpa" if cfg.packing else None  # packing relies on SDPA taking the 4D mask as-is


def load_model(cfg: TrainConfig, path: str, tokenizer: Any) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=_attention(cfg),
                                                     **_quantization(cfg))
    except (OSError, ValueError) as exc:
        if cfg.padding_free and "attn" in str(exc).lower():
            raise ConfigError(f"train.padding_free: {path!r} does not take a custom attention function ({exc}); "
                              "set train.padding_free: false") from None
        raise ModelNotAvailable(f"train.model {path!r}: cannot load ({exc})") from None
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.use_cache = False
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return _with_lora(cfg, model)


def _with_lora(cfg: TrainConfig, model: Any) -> Any:
    if cfg.lora is None:
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.lora.load_in_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    lora = LoraConfig(
        r=cfg.lora.rank, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
        target_modules=list(cfg.lora.targets), task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)
