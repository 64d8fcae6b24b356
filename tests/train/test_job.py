"""Real Ray Train + DeepSpeed runs on CPU (gloo) on a tiny config-built Llama. (A two-worker
ZeRO-2 run's life, learning, a lost node, its resume, export, the re-run that is skipped and a
checkpoint cut short: tests/train/test_node_loss.py, on a real multi-node cluster.)"""

import json

import pytest

from metamath.config.schema import MetaMathConfig, TrainConfig
from metamath.errors import DataError, ModelNotAvailable
from metamath.testing.tiny import write_toy_metamathqa
from metamath.train.job import run_train
from metamath.train.metrics import read_metrics

pytestmark = pytest.mark.slow


def _config(tiny_llama, tmp_path, rows=96, **train):
    data = write_toy_metamathqa(tmp_path / "mmqa.jsonl", rows)
    base = dict(model=str(tiny_llama), data_path=str(data), output_dir=str(tmp_path / "out"), max_length=128,
                epochs=2, micro_batch_size=4, global_batch_size=16, lr=3e-3, warmup_ratio=0.1, precision="fp32",
                num_workers=2, save_every_steps=4)
    base.update(train)
    return MetaMathConfig(train=TrainConfig(**base))


def _assert_loss_falls(out):
    rows = read_metrics(out)
    steps = [r["step"] for r in rows]
    assert steps == list(range(1, len(rows) + 1))
    assert rows[-1]["loss"] < rows[0]["loss"] - 0.5, [r["loss"] for r in rows]
    assert all(r["tokens_per_s"] > 0 and r["grad_norm"] is not None for r in rows)
    return rows


def _generate(folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    inputs = tokenizer("Tom has 3 apples", return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    return model


def test_zero3_packed_run_learns_and_exports_complete_weights(ray_local, tiny_llama, tmp_path):
    from safetensors.torch import load_file

    cfg = _config(tiny_llama, tmp_path, zero_stage=3, packing=True, epochs=2, max_length=256)
    summary = run_train(cfg)
    assert summary["data"]["train_rows"] < summary["data"]["examples"]  # packing merged rows
    _assert_loss_falls(tmp_path / "out")
    weights = load_file(str(tmp_path / "out" / "final" / "model.safetensors"))
    base = load_file(str(tiny_llama / "model.safetensors"))
    assert set(weights) == set(base)
    assert all(weights[k].shape == base[k].shape and weights[k].abs().sum() > 0 for k in base)
    _generate(tmp_path / "out" / "final")


def test_bad_inputs_fail_with_clear_messages(ray_local, tiny_llama, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"query": "q", "response": "r", "type": "GSM_AnsAug", "original_question": "q"}) + "\n"
                   + json.dumps({"query": "q2", "type": "GSM_AnsAug", "original_question": "q2"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: missing field\(s\) response"):
        run_train(_config(tiny_llama, tmp_path, data_path=str(bad)))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match=r"empty.jsonl: no MetaMathQA rows"):
        run_train(_config(tiny_llama, tmp_path, data_path=str(empty)))
    with pytest.raises(DataError, match=r"no training example left of 96 rows: 0 malformed .* 96 with no response "
                                        r"token within train.max_length=8"):
        run_train(_config(tiny_llama, tmp_path, max_length=8))
    with pytest.raises(ModelNotAvailable, match=r"no-such-org/no-such-model"):
        run_train(_config(tiny_llama, tmp_path, model="no-such-org/no-such-model"))
    with pytest.raises(ModelNotAvailable, match=r"no such model folder"):
        run_train(_config(tiny_llama, tmp_path, model="./missing-model"))


def test_lora_run_with_a_relative_output_dir_exports_merged_weights_and_the_adapter(
        ray_local, tiny_llama, tmp_path, monkeypatch):
    from metamath.config.schema import LoraConfig

    monkeypatch.chdir(tmp_path)  # output_dir "out" is relative to here, not to a worker's folder
    cfg = _config(tiny_llama, tmp_path, num_workers=1, max_steps=2, save_every_steps=None, output_dir="out",
                  lora=LoraConfig(rank=4, alpha=8, dropout=0.0, targets=["q_proj", "v_proj"]))
    summary = run_train(cfg)
    final = tmp_path / "out" / "final"
    assert summary["first_loss"] is not None and (tmp_path / "out" / "metrics.jsonl").is_file()
    # one worker runs DeepSpeed stage 0, where the loop clips and logs the norm itself
    for row in read_metrics(tmp_path / "out"):
        assert row["grad_norm"] > 0 and row["tokens"] > 0 and 0 <= row["data_s"] < row["step_s"]
    assert (final / "adapter" / "adapter_config.json").is_file()
    model = _generate(final)  # merged: a plain Llama, no peft needed to load it
    assert not any("lora" in name for name in model.state_dict())


def test_a_finished_run_is_one_of_the_same_config_data_and_final_folder(tiny_llama, tmp_path):
    """What makes a re-run skip (end to end: tests/train/test_node_loss.py), on a summary as a
    finished run writes it: any change to the config or the data, or a missing final/, trains again."""
    import os

    from metamath import storage
    from metamath.train.job import SUMMARY, finished_run, run_fingerprint

    cfg = _config(tiny_llama, tmp_path).train
    (tmp_path / "out" / "final").mkdir(parents=True)
    summary = {"final": str(tmp_path / "out" / "final"), "fingerprint": run_fingerprint(cfg), "last_loss": 1.0}
    storage.write_text(str(tmp_path / "out" / SUMMARY), json.dumps(summary))
    assert finished_run(cfg) == summary
    assert finished_run(cfg.model_copy(update={"epochs": 3})) is None
    os.utime(cfg.data_path, ns=(1, 1))  # the data rewritten in place
    assert finished_run(cfg) is None
    storage.write_text(str(tmp_path / "out" / SUMMARY), json.dumps({**summary, "fingerprint": run_fingerprint(cfg)}))
    assert finished_run(cfg) is not None
    (tmp_path / "out" / "final").rmdir()
    assert finished_run(cfg) is None
