"""One MetaMathQA row -> token ids and labels, as the reference `train_math.py` builds them.

The prompt is rendered with the `paper` or `uniform` template, the response follows it
directly and then EOS. Labels copy the ids with the prompt's tokens set to -100, where the
prompt's length is that of the prompt tokenised on its own (the reference's rule), so the
loss covers the response and EOS only. Rows longer than `max_length` are truncated on the
right (the paper's behaviour: a long MATH solution loses its answer line) and counted;
a row with no response token left after truncation is dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from metamath.prompts.templates import train_prompt

IGNORE_INDEX = -100


@dataclass(frozen=True)
class EncodedExample:
    input_ids: list[int]
    labels: list[int]
    truncated: bool


def encode_example(tokenizer: Any, query: str, response: str, template: str, max_length: int) -> Optional[EncodedExample]:
    """None when truncation leaves no response token to learn from."""
    prompt = train_prompt(query, template)
    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    full_ids = tokenizer(prompt + response, add_special_tokens=True)["input_ids"] + [tokenizer.eos_token_id]
    truncated = len(full_ids) > max_length
    ids = full_ids[:max_length]
    n_prompt = min(len(prompt_ids), len(ids))
    labels = [IGNORE_INDEX] * n_prompt + ids[n_prompt:]
    if n_prompt >= len(ids):
        return None
    return EncodedExample(ids, labels, truncated)


def encode_batch(batch: dict[str, Any], tokenizer: Any, template: str, max_length: int) -> dict[str, list]:
    """Ray Data `map_batches` body: columns query/response -> input_ids/labels/flags.

    Dropped rows stay in the output with empty ids (flag `dropped`) so the job can count
    them; the job filters them out before training."""
    out: dict[str, list] = {"input_ids": [], "labels": [], "truncated": [], "dropped": [], "n_tokens": []}
    for query, response in zip(batch["query"], batch["response"]):
        example = encode_example(tokenizer, str(query), str(response), template, max_length)
        out["dropped"].append(example is None)
        out["truncated"].append(True if example is None else example.truncated)
        out["input_ids"].append([] if example is None else example.input_ids)
        out["labels"].append([] if example is None else example.labels)
        out["n_tokens"].append(0 if example is None else len(example.input_ids))
    return out
