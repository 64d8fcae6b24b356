"""evaluate end to end: the hf backend on a tiny random Llama (the plumbing; the embedded model's
real weights are exercised by tests/evaluate/test_job_vllm.py and the demo), the openai backend
against a scripted server, the vLLM path's wiring without a GPU."""

import json
import os

import pytest

from metamath.config.schema import EvaluateConfig, MetaMathConfig
from metamath.data.benchmarks import load_benchmark
from metamath.evaluate.job import run_evaluate
from metamath.prompts.templates import PAPER_STOP
from metamath.scoring.run import score_predictions

OUTPUTS = ("report.json", "report.md", "run.json", "completion_length.png", "missing_answer.png")


@pytest.fixture
def rounds(monkeypatch) -> list[str]:
    """The labels of the generation rounds evaluate runs: each round starts the backend's actors
    (engines) once, so one round per run is one engine start per model."""
    from metamath.evaluate import decode

    labels, real = [], decode.run_round

    def counted(groups, cfg, store, path, label, *args, **kwargs):
        labels.append(label)
        return real(groups, cfg, store, path, label, *args, **kwargs)

    monkeypatch.setattr(decode, "run_round", counted)
    return labels


@pytest.mark.slow
def test_hf_backend_end_to_end_and_resume(ray_local, data_root, tiny_llama, tmp_path, rounds):
    out = tmp_path / "eval"
    cfg = EvaluateConfig(model=str(tiny_llama), backend="hf", benchmarks=["gsm8k", "math"], limit=2,
                         max_tokens={"gsm8k": 48, "math": 48}, batch_size=4, output_dir=str(out))
    first = run_evaluate(MetaMathConfig(evaluate=cfg))
    assert rounds == ["decoding gsm8k, math"]  # both benchmarks in one round: the model loaded once
    for name in OUTPUTS + ("accuracy_by_level.png", "accuracy_by_subject.png"):
        assert (out / name).is_file(), name
    rows = [json.loads(line) for line in (out / "gsm8k" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["prompt"].endswith("### Response: Let's think step by step.")
    assert rows[0]["completion"] and rows[0]["completion_tokens"] > 0 and "paper_correct" in rows[0]
    assert all(stop not in row["completion"] for row in rows for stop in PAPER_STOP)
    report = json.loads((out / "report.json").read_text())
    assert report["gsm8k"]["n"] == 2 and "by_level" in report["math"] and report["math"]["decode"]["sent"] == 2
    assert first["reports"]["gsm8k"]["decode"]["from_cache"] == 0
    # A resumed (larger) run decodes only the new items; the finished ones come from the store.
    again = run_evaluate(MetaMathConfig(evaluate=cfg.model_copy(update={"limit": 3, "benchmarks": ["gsm8k"]})))
    assert again["reports"]["gsm8k"]["decode"] == {**again["reports"]["gsm8k"]["decode"], "sent": 1, "from_cache": 2}
    rescored = score_predictions("gsm8k", str(out / "gsm8k" / "predictions.jsonl"), str(tmp_path / "rescore"))
    assert rescored["gsm8k"]["strict"] == again["reports"]["gsm8k"]["strict"]
    # The same config again: decode and score finished, both skipped (work/steps.json), the same report
    same = cfg.model_copy(update={"limit": 3, "benchmarks": ["gsm8k"]})
    rounds.clear()
    third = run_evaluate(MetaMathConfig(evaluate=same))
    assert rounds == [] and all(step["skipped"] for step in third["run"]["steps"].values())
    decode = third["reports"]["gsm8k"]["decode"]
    assert (decode["sent"], decode["from_cache"], decode["completion_tokens"]) == (0, 3, 0)
    assert third["reports"]["gsm8k"]["strict"] == again["reports"]["gsm8k"]["strict"]
    # The model retrained into the same folder is another model: nothing is resumed on its account
    os.utime(tiny_llama / "config.json")
    run_evaluate(MetaMathConfig(evaluate=same))
    assert rounds == ["decoding gsm8k"]


def test_openai_backend_uses_the_completions_api_with_the_papers_stops(ray_local, scripted, data_root, tmp_path,
                                                                       rounds):
    """Greedy decoding with the paper's stops, and (evaluate.samples) k sampled completions per
    item through the same store, summarised as maj@k / pass@k next to the greedy accuracy."""
    problems = load_benchmark("gsm8k", "test", limit=6).problems
    log = tmp_path / "server.jsonl"
    server = scripted(answers={p.question: p.gold if i else "-1" for i, p in enumerate(problems)}, log_path=str(log),
                      faults=[{"every": 3, "fault": "500"}])
    cfg = EvaluateConfig(backend="openai", model="scripted", base_url=server.base_url, api_key_env=None,
                         benchmarks=["gsm8k"], limit=6, output_dir=str(tmp_path / "eval"), max_tokens={"gsm8k": 512},
                         samples=3, temperature=0.9)
    result = run_evaluate(MetaMathConfig(evaluate=cfg))["reports"]["gsm8k"]
    assert len(rounds) == 1  # the greedy and the sampled completions in one round
    assert result["n"] == 6 and result["paper"]["correct"] == 5 and result["strict"]["correct"] == 5
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    assert {r["path"] for r in requests} == {"/v1/completions"}
    assert all(r["stop"] == PAPER_STOP and r["max_tokens"] == 512 for r in requests)
    greedy = [r for r in requests if r["temperature"] == 0.0]
    failed_first = sum(r["status"] == "500" for r in greedy)
    assert result["decode"]["sent"] == 6 + failed_first and result["decode"]["failed"] == 0
    sampling = result["sampling"]
    assert sampling["n"] == 6 and sampling["decode"]["failed"] == 0
    assert sum(r["choices"] for r in requests if r["temperature"] == 0.9) == 18
    for scorer in ("paper", "strict"):
        assert sampling[scorer]["maj@3"]["correct"] == 5 and sampling[scorer]["pass@3"] == pytest.approx(5 / 6, abs=1e-4)
    lines = [json.loads(line) for line in (tmp_path / "eval" / "gsm8k" / "samples.jsonl").read_text().splitlines()]
    assert sorted((r["id"], r["sample_index"]) for r in lines) == sorted((p.id, i) for p in problems for i in range(3))
    assert "| gsm8k | paper | 3 | 0.9 | 83.3 | 83.3 [" in (tmp_path / "eval" / "report.md").read_text()


def test_vllm_processor_for_raw_prompts_is_built_without_a_gpu(ray_local, tmp_path):
    from metamath.evaluate.requests import decoder_config
    from metamath.generation.backends.vllm_backend import (
        build_vllm_processor,
        engine_config,
        preprocess_row,
    )

    cfg = EvaluateConfig(backend="vllm", model="/models/metamath-7b", replicas=2, tensor_parallel_size=2)
    decoder = decoder_config(cfg, "math")
    config = engine_config(decoder, "/models/metamath-7b", chat=False)
    assert getattr(config.chat_template_stage, "enabled", config.chat_template_stage) is False
    assert config.concurrency == 2
    assert config.engine_kwargs["tensor_parallel_size"] == 2
    row = preprocess_row({"key": "c" * 64, "messages_json": json.dumps("PROMPT"), "meta": "{}", "sample_index": 0},
                         decoder)
    assert row["prompt"] == "PROMPT" and "messages" not in row
    assert row["sampling_params"]["temperature"] == 0.0 and row["sampling_params"]["max_tokens"] == 2048
    assert row["sampling_params"]["stop"] == PAPER_STOP
    assert build_vllm_processor(decoder, "/models/metamath-7b", str(tmp_path), chat=False) is not None


@pytest.mark.slow
def test_a_relative_local_model_folder_is_found_by_the_ray_workers(ray_local, data_root, tiny_llama, tmp_path,
                                                                   monkeypatch):
    monkeypatch.chdir(tiny_llama.parent)  # the model is "./llama" from here, not from a worker's cwd
    cfg = EvaluateConfig(model="llama", backend="hf", benchmarks=["gsm8k"], limit=2, max_tokens={"gsm8k": 4},
                         output_dir=str(tmp_path / "eval"))
    result = run_evaluate(MetaMathConfig(evaluate=cfg))["reports"]["gsm8k"]
    assert result["n"] == 2 and result["decode"]["failed"] == 0 and result["decode"]["completion_tokens"] > 0
