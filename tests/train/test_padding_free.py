import random

import pytest
import torch

from metamath.train.collate import pad_batch
from metamath.train.examples import IGNORE_INDEX
from metamath.train.padding_free import ATTENTION, LOSS_TARGETS, flatten_batch, register_attention, target_loss


def _rows(lengths, prompt=3, seed=0):
    rng = random.Random(seed)
    rows = []
    for n in lengths:
        ids = [rng.randrange(5, 250) for _ in range(n)]
        rows.append({"input_ids": ids, "labels": [IGNORE_INDEX] * prompt + ids[prompt:]})
    return rows


def _model(path, attention):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation=attention).train()


def _grads(model):
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def test_flatten_batch_restarts_positions_and_keeps_only_target_positions():
    batch = flatten_batch([{"input_ids": [1, 2, 3], "labels": [IGNORE_INDEX, 2, 3]},
                           {"input_ids": [4, 5, 6, 7], "labels": [IGNORE_INDEX, IGNORE_INDEX, 6, 7]}])
    assert batch["input_ids"].tolist() == [[1, 2, 3, 4, 5, 6, 7]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1, 2, 3]]
    assert batch["cu_seq_lens_q"].tolist() == [0, 3, 7] and batch["max_length_q"] == 4
    # position p predicts token p+1: 0->2, 1->3, then (2 -> 4 crosses examples: not kept), 4->6, 5->7
    assert batch["logits_to_keep"].tolist() == [0, 1, 4, 5]
    assert batch[LOSS_TARGETS].tolist() == [2, 3, 6, 7]
    assert batch["n_real"] == 7


def test_flatten_batch_never_predicts_across_examples_even_with_unmasked_starts():
    batch = flatten_batch([{"input_ids": [1, 2], "labels": [1, 2]}, {"input_ids": [3, 4], "labels": [3, 4]}])
    assert batch["logits_to_keep"].tolist() == [0, 2]
    assert batch[LOSS_TARGETS].tolist() == [2, 4]


def test_flatten_batch_splits_packed_rows_into_their_examples():
    batch = flatten_batch([{"input_ids": [1, 2, 3, 4, 5], "labels": [1, 2, 3, 4, 5], "seq_lens": [2, 3]}])
    assert batch["cu_seq_lens_q"].tolist() == [0, 2, 5]
    assert batch["position_ids"].tolist() == [[0, 1, 0, 1, 2]]


@pytest.mark.parametrize("lengths", [[9, 17], [12, 5, 20, 8], [14]])
def test_padding_free_loss_and_gradients_equal_the_padded_batch(tiny_llama, lengths):
    register_attention()
    rows = _rows(lengths)
    padded, free = _model(tiny_llama, "sdpa"), _model(tiny_llama, ATTENTION)
    padded_loss = padded(**pad_batch(rows, pad_id=0)).loss
    batch = flatten_batch(rows)
    batch.pop("n_real")
    free_loss = target_loss(free, batch)
    padded_loss.backward()
    free_loss.backward()
    assert free_loss.item() == pytest.approx(padded_loss.item(), rel=1e-5)
    assert torch.allclose(_grads(free), _grads(padded), atol=1e-6, rtol=1e-4)


def test_varlen_attention_keeps_examples_apart(tiny_llama):
    register_attention()
    model = _model(tiny_llama, ATTENTION).eval()
    rows = _rows([6, 11], seed=3)
    batch = flatten_batch(rows)
    with torch.no_grad():
        together = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                         cu_seq_lens_q=batch["cu_seq_lens_q"], cu_seq_lens_k=batch["cu_seq_lens_k"],
                         max_length_q=batch["max_length_q"], max_length_k=batch["max_length_k"]).logits[0]
        second = model(input_ids=torch.tensor([rows[1]["input_ids"]])).logits[0]
    assert torch.allclose(together[6:], second, atol=1e-5)
