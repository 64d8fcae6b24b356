import torch

from metamath.train.collate import collate, pack_rows, packed_batch, pad_batch
from metamath.train.examples import IGNORE_INDEX


def _rows(lengths, start=10):
    rows = []
    for n in lengths:
        ids = list(range(start, start + n))
        rows.append({"input_ids": ids, "labels": [IGNORE_INDEX] * 2 + ids[2:]})
        start += n
    return rows


def test_pad_batch_pads_right_with_ignored_labels():
    batch = pad_batch(_rows([3, 5]), pad_id=0)
    assert batch["input_ids"].tolist()[0] == [10, 11, 12, 0, 0]
    assert batch["labels"].tolist()[0] == [IGNORE_INDEX, IGNORE_INDEX, 12, IGNORE_INDEX, IGNORE_INDEX]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]


def test_pack_rows_fits_whole_examples_under_the_limit():
    rows = _rows([6, 5, 4, 3, 2])
    packed = pack_rows({"input_ids": [r["input_ids"] for r in rows], "labels": [r["labels"] for r in rows]}, 8)
    assert all(sum(lens) <= 8 for lens in packed["seq_lens"])
    assert sorted(n for lens in packed["seq_lens"] for n in lens) == [2, 3, 4, 5, 6]
    assert sorted(t for ids in packed["input_ids"] for t in ids) == sorted(t for r in rows for t in r["input_ids"])
    assert len(packed["input_ids"]) == 3  # 6+2, 5+3, 4


def test_packed_mask_is_block_diagonal_causal_and_positions_restart():
    batch = packed_batch([{"input_ids": [1, 2, 3, 4, 5], "labels": [1, 2, 3, 4, 5], "seq_lens": [2, 3]}], pad_id=0)
    assert batch["position_ids"].tolist() == [[0, 1, 0, 1, 2]]
    mask = batch["attention_mask"][0, 0].int().tolist()
    assert mask == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 1]]
    assert batch["n_real"] == 5


def test_packed_forward_equals_each_example_alone(tiny_llama):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_llama, attn_implementation="sdpa").eval()
    rows = _rows([5, 7, 4], start=100)
    packed = pack_rows({"input_ids": [r["input_ids"] for r in rows], "labels": [r["labels"] for r in rows]}, 16)
    assert len(packed["input_ids"]) == 1  # all three share one row
    batch = collate([{k: packed[k][0] for k in packed}], pad_id=0, packed=True)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       position_ids=batch["position_ids"]).logits[0]
        start = 0
        for n in packed["seq_lens"][0]:
            ids = torch.tensor([packed["input_ids"][0][start:start + n]])
            alone = model(input_ids=ids).logits[0]
            assert torch.allclose(logits[start:start + n], alone, atol=1e-5)
            start += n
