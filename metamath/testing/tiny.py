"""A tiny config-built Llama (random weights, the embedded tokenizer) and a toy MetaMathQA
file: real models and real data shapes, small enough for CPU tests and benchmarks."""

from __future__ import annotations

import json
import random
from pathlib import Path


def make_tiny_llama(folder: Path, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from metamath.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m-instruct"))
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=max(4, hidden // 64), num_key_value_heads=max(2, hidden // 128), max_position_embeddings=2048, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def toy_row(a: int, b: int, with_newline: bool) -> dict[str, str]:
    query = f"Tom has {a} apples and buys {b} more. How many apples does he have?"
    if with_newline:
        query += "\nIf we know the answer is correct, what is the total?"
    response = f"Tom has {a} + {b} = {a + b} apples.\n#### {a + b}\nThe answer is: {a + b}"
    return {"query": query, "response": response, "type": "GSM_AnsAug", "original_question": query}


def write_toy_metamathqa(path: Path, rows: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w") as handle:
        for i in range(rows):
            row = toy_row(rng.randint(1, 99), rng.randint(1, 99), with_newline=i % 3 == 0)
            handle.write(json.dumps(row) + "\n")
    return path
