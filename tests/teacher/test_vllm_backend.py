"""The vLLM path's wiring, checked without a GPU (the engine itself needs one)."""

import json

import pytest

from metamath.config import TeacherConfig
from metamath.teacher.vllm_backend import build_vllm_processor, engine_config, expand_samples, postprocess_row, preprocess_row

CFG = TeacherConfig(backend="vllm", model="m", replicas=2, tensor_parallel_size=4, batch_size=16, temperature=0.7,
                    max_tokens=300)


def test_engine_config_from_teacher_config():
    config = engine_config(CFG, "/models/m")
    assert config.model_source == "/models/m" and config.concurrency == 2 and config.batch_size == 16
    assert config.engine_kwargs["tensor_parallel_size"] == 4 and config.engine_kwargs["enable_prefix_caching"]


def test_rows_in_and_out():
    group = {"keys": ["a" * 64, "b" * 64], "sample_indices": [0, 1], "messages": '[{"role": "user", "content": "q"}]',
             "meta": "{}"}
    rows = list(expand_samples(group))
    assert [r["sample_index"] for r in rows] == [0, 1]
    prepared = preprocess_row(rows[1], CFG)
    assert prepared["messages"] == [{"role": "user", "content": "q"}]
    assert prepared["sampling_params"] == {"temperature": 0.7, "top_p": 1.0, "max_tokens": 300, "seed": int("b" * 8, 16)}
    out = postprocess_row({**rows[1], "generated_text": "The answer is 3", "num_input_tokens": 5, "num_generated_tokens": 4})
    assert out["key"] == "b" * 64 and out["status"] == "ok" and out["completion_tokens"] == 4 and out["meta"] == "{}"
    assert postprocess_row({**rows[0], "generated_text": None})["reason"] == "engine_error"


def test_processor_builds(ray_local, tmp_path):
    processor = build_vllm_processor(CFG, "/models/m", str(tmp_path))
    assert processor is not None


@pytest.mark.gpu
def test_vllm_generates_on_a_gpu(ray_local, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("vllm")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    from metamath.teacher.requests import make_group
    from metamath.teacher.runner import run_groups

    cfg = TeacherConfig(backend="vllm", model="smollm2-135m-instruct", max_tokens=16)
    run = run_groups([make_group(cfg, [{"role": "user", "content": "2+3?"}], 2, {})], cfg, str(tmp_path), "gpu")
    assert run.samples_ok == 2 and json.loads(run.rows[0]["meta"]) == {}
