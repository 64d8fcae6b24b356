"""The training and generation components on a CUDA GPU (skipped without one)."""

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")]


def test_packed_bf16_forward_matches_each_example_alone_on_cuda(tiny_llama):
    from transformers import AutoModelForCausalLM

    from metamath.train.collate import collate, pack_rows

    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.bfloat16, attn_implementation="sdpa")
    model = model.cuda().eval()
    rows = [list(range(100 + 20 * i, 100 + 20 * i + n)) for i, n in enumerate([9, 14, 6])]
    packed = pack_rows({"input_ids": rows, "labels": rows}, 32)
    batch = collate([{k: packed[k][0] for k in packed}], pad_id=0, packed=True)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"].cuda(), attention_mask=batch["attention_mask"].cuda(),
                       position_ids=batch["position_ids"].cuda()).logits[0].float()
        start = 0
        for n in packed["seq_lens"][0]:
            alone = model(input_ids=torch.tensor([packed["input_ids"][0][start:start + n]]).cuda()).logits[0].float()
            assert torch.allclose(logits[start:start + n], alone, atol=3e-2), (logits[start:start + n] - alone).abs().max()
            start += n
