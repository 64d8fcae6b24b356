import json
import math

import pytest

from metamath.analysis.perplexity import response_nll, score_perplexity, summarize, write_perplexity
from metamath.records import write_jsonl
from metamath.records.schema import MetaMathQARecord


def test_response_nll_equals_a_hand_computation(tiny_llama):
    import torch
    from transformers import AutoModelForCausalLM

    from metamath.train.collate import pad_batch
    from metamath.train.examples import encode_example
    from metamath.train.model import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_llama))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32).eval()
    rows = [encode_example(tokenizer, q, r, "paper", 128) for q, r in
            [("What is 2 + 3?", "2 + 3 = 5.\nThe answer is: 5"), ("Tom has 4 apples.\nHow many?", "He has 4.")]]
    batch = pad_batch([{"input_ids": e.input_ids, "labels": e.labels} for e in rows], tokenizer.pad_token_id)
    sums, counts = response_nll(model, batch)
    for row, nll, n in zip(rows, sums, counts):
        # by hand: one unpadded forward, -log p(token t | tokens < t) for each response/EOS token
        with torch.no_grad():
            logprobs = torch.log_softmax(model(torch.tensor([row.input_ids])).logits[0].double(), dim=-1)
        targets = [t for t, label in enumerate(row.labels) if label != -100]
        by_hand = -sum(float(logprobs[t - 1, row.input_ids[t]]) for t in targets)
        assert n == len(targets) and nll == pytest.approx(by_hand, rel=1e-4)
        assert math.exp(nll / n) > 1


def test_summary_of_scored_rows():
    scored = [{"source": "a", "type": "GSM_SV", "perplexity": math.exp(1.0), "nll_sum": 2.0, "targets": 2},
              {"source": "a", "type": "GSM_SV", "perplexity": math.exp(3.0), "nll_sum": 6.0, "targets": 2},
              {"source": "b", "type": "GSM_AnsAug", "perplexity": 2.0, "nll_sum": math.log(2.0) * 4, "targets": 4}]
    first, second = summarize(scored)
    assert (first["n"], first["corpus"]) == (2, pytest.approx(math.exp(2.0)))
    assert first["median"] == pytest.approx((math.exp(1) + math.exp(3)) / 2) and second["corpus"] == pytest.approx(2.0)


@pytest.mark.slow
def test_files_scored_on_ray_actors_with_a_table_and_a_box_plot(ray_local, tiny_llama, tmp_path):
    paths = []
    for name, kinds in (("mmqa", ("GSM_AnsAug", "GSM_FOBAR")), ("gsm8k_cot", ("GSM_AnsAug",))):
        rows = [MetaMathQARecord(f"Q{i} {k}?", f"Step {i}.\nThe answer is: {i}", k, f"Q{i}?") for i in range(5)
                for k in kinds]
        write_jsonl(rows, tmp_path / f"{name}.jsonl")
        paths.append(str(tmp_path / f"{name}.jsonl"))
    scored = score_perplexity(str(tiny_llama), paths, max_length=128, batch_size=4)
    assert len(scored) == 15 and all(r["perplexity"] > 1 and r["targets"] > 0 for r in scored)
    table, path = write_perplexity(scored, str(tmp_path / "out"), "tiny")
    summary = json.loads((tmp_path / "out" / "perplexity.json").read_text())["summary"]
    assert {(g["source"], g["type"], g["n"]) for g in summary} == {
        ("mmqa", "GSM_AnsAug", 5), ("mmqa", "GSM_FOBAR", 5), ("gsm8k_cot", "GSM_AnsAug", 5)}
    assert "| gsm8k_cot | GSM_AnsAug | 5 |" in table and (tmp_path / "out" / "perplexity.png").stat().st_size > 1000
