"""The vLLM backend's configuration from `use_gpu`, and its rows in and out (no engine needed);
the engine itself runs in the `vllm` tests (tests/*/test_*_vllm.py, `make test-vllm`)."""

import json
from pathlib import Path

import pytest

from metamath.config import TeacherConfig
from metamath.errors import ConfigError
from metamath.generation.backends import vllm_backend
from metamath.generation.backends.vllm_backend import engine_config, expand_samples, preprocess_row, require_vllm, response_row

def bundles(config):
    return [{k: v for k, v in b.items() if v} for b in config.placement_group_config["bundles"]]


CFG = TeacherConfig(backend="vllm", model="m", replicas=2, tensor_parallel_size=4, batch_size=16, temperature=0.7,
                    max_tokens=300)


def test_cpu_engine_is_eager_float32_with_a_kv_cache_and_cpu_bundles_per_rank():
    config = engine_config(CFG.model_copy(update={"kv_cache_gb": 3}), "/models/m")
    assert config.model_source == "/models/m" and config.concurrency == 2 and config.batch_size == 16
    kwargs = config.engine_kwargs
    assert kwargs["tensor_parallel_size"] == 4 and kwargs["enforce_eager"] and kwargs["dtype"] == "float32"
    assert kwargs["enable_chunked_prefill"] is False  # seeded samples crash a CPU engine after a partial prefill
    assert bundles(config) == [{"CPU": 1}] * 4
    env = config.runtime_env["env_vars"]
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "3" and env["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"
    assert config.log_engine_metrics is False and config.should_continue_on_error is True
    # the engine tokenizes itself on CPU: no extra actors competing for the cores
    assert config.tokenize_stage is False and config.detokenize_stage is False
    assert config.chat_template_stage["num_cpus"] <= 0.25


def test_gpu_engine_gets_a_gpu_per_rank_and_separate_tokenizer_stages():
    config = engine_config(CFG.model_copy(update={"use_gpu": True}), "/models/m", chat=False)
    assert bundles(config) == [{"CPU": 1, "GPU": 1}] * 4
    assert not {"enforce_eager", "dtype", "enable_chunked_prefill"} & config.engine_kwargs.keys()
    assert "VLLM_CPU_KVCACHE_SPACE" not in config.runtime_env["env_vars"] and config.chat_template_stage is False
    assert config.tokenize_stage["num_cpus"] <= 0.25 and config.detokenize_stage["concurrency"] == 2


def test_the_engine_gets_vllms_offline_batch_defaults_not_the_serving_fallbacks():
    """Ray Data LLM's engine config has no usage context: unset, these would be 128 sequences and
    2048 tokens a step, with per-step statistics computed for loggers that are off."""
    cpu = engine_config(CFG, "m", max_model_len=8192).engine_kwargs
    assert cpu["max_num_seqs"] == 256 * 4 and cpu["disable_log_stats"] is True
    assert cpu["max_num_batched_tokens"] == 4096 * 4  # and never below a whole prompt (no chunked prefill)
    one = engine_config(CFG.model_copy(update={"tensor_parallel_size": 1}), "m", max_model_len=8192).engine_kwargs
    assert one["max_num_batched_tokens"] == 8192
    gpu = engine_config(CFG.model_copy(update={"use_gpu": True}), "m").engine_kwargs
    assert (gpu["max_num_seqs"], gpu["max_num_batched_tokens"], gpu["disable_log_stats"]) == (256, 8192, True)


def test_user_engine_kwargs_win():
    config = engine_config(CFG.model_copy(update={"engine_kwargs": {"dtype": "bfloat16", "max_num_seqs": 8}}), "m")
    assert config.engine_kwargs["dtype"] == "bfloat16" and config.engine_kwargs["max_num_seqs"] == 8


def test_enough_batches_in_flight_to_fill_the_engine_scheduler():
    assert engine_config(CFG, "m").max_concurrent_batches == 256 * 4 // 16  # vLLM's CPU default, per TP rank
    gpu = engine_config(CFG.model_copy(update={"use_gpu": True, "tensor_parallel_size": 1, "batch_size": 16}), "m")
    assert gpu.max_concurrent_batches == 256 // 16
    small = CFG.model_copy(update={"engine_kwargs": {"max_num_seqs": 16}})
    assert engine_config(small, "m").max_concurrent_batches == 8  # never below Ray Data LLM's default


def test_engine_stage_resources_follow_the_bundles():
    """What Ray Data LLM asks the scheduler for: CPUs only on CPU, so a GPU-less node schedules it."""
    from ray.llm._internal.batch.stages.vllm_engine_stage import vLLMEngineStage

    def stage_resources(cfg):
        config = engine_config(cfg, "m")
        return vLLMEngineStage(fn_constructor_kwargs={"engine_kwargs": dict(config.engine_kwargs), "model": "m",
                                                      "placement_group_config": config.placement_group_config},
                               map_batches_kwargs={}).map_batches_kwargs

    cpu = stage_resources(CFG.model_copy(update={"tensor_parallel_size": 1}))
    assert cpu.get("num_gpus", 0) == 0 and cpu["num_cpus"] == 1
    gpu = stage_resources(CFG.model_copy(update={"tensor_parallel_size": 1, "use_gpu": True}))
    assert gpu["num_gpus"] == 1


def test_rows_in_and_out():
    group = {"keys": ["a" * 64, "b" * 64], "sample_indices": [0, 1], "messages": '[{"role": "user", "content": "q"}]',
             "meta": "{}"}
    rows = list(expand_samples(group))
    assert [r["sample_index"] for r in rows] == [0, 1]
    prepared = preprocess_row(rows[1], CFG)
    assert prepared["messages"] == [{"role": "user", "content": "q"}]
    assert prepared["sampling_params"] == {"temperature": 0.7, "top_p": 1.0, "max_tokens": 300, "seed": int("b" * 8, 16),
                                           "stream_interval": 300}
    out = response_row({**rows[1], "generated_text": "The answer is 3", "num_input_tokens": 5, "num_generated_tokens": 4,
                        "time_taken_llm": 0.5}, max_tokens=300)
    assert out["key"] == "b" * 64 and out["status"] == "ok" and out["completion_tokens"] == 4 and out["meta"] == "{}"
    assert out["finish_reason"] == "stop" and out["latency_s"] == 0.5 and out["finished_at"] > 0
    assert response_row({**rows[1], "generated_text": "x", "num_generated_tokens": 300}, 300)["finish_reason"] == "length"
    failed = response_row({**rows[0], "generated_text": "", "__inference_error__": "ValueError: too long"})
    assert failed["status"] == "failed" and failed["reason"] == "engine_error" and failed["text"] is None


def test_choosing_vllm_without_it_fails_before_any_work_and_says_how_to_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"evaluate.backend: vllm.*make install-vllm.*\.\[gpu\]"):
        require_vllm("evaluate.backend")


def test_preflight_checks_only_the_backends_a_command_uses(monkeypatch):
    from metamath.config import load_config
    from metamath.preflight import check_backends

    calls = []
    monkeypatch.setattr(vllm_backend, "require_vllm", calls.append)
    cfg = load_config(None, ["augment.dataset=gsm8k", "teacher.backend=vllm", "evaluate.backend=vllm",
                             "pipeline.stages=[evaluate]"])
    check_backends("pipeline", cfg)
    assert calls == ["evaluate.backend"]
    check_backends("augment", cfg)
    assert calls[-1] == "teacher.backend"


def test_processor_builds(ray_local, tmp_path):
    run = vllm_backend.build_vllm_processor(CFG, "/models/m", str(tmp_path))
    assert callable(run)


@pytest.mark.gpu
def test_vllm_generates_on_a_gpu(ray_local, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("vllm")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    from metamath.generation.requests import make_group
    from metamath.generation.round import run_round
    from metamath.ray_data import read_shards, small_dataset

    cfg = TeacherConfig(backend="vllm", model="smollm2-135m-instruct", max_tokens=16, use_gpu=True)
    groups = small_dataset([make_group(cfg, [{"role": "user", "content": "2+3?"}], 2, {}).to_row()])
    done = run_round(groups, cfg, str(tmp_path / "store"), str(tmp_path / "out"), "gpu", "gpu")
    assert done.run.samples_ok == 2 and json.loads(read_shards(done.path).take_all()[0]["meta"]) == {}


class _InFlight:
    """An async batch UDF (as the engine stage is) that records how many of its batches overlap."""

    def __init__(self):
        self.now = 0

    async def __call__(self, batch):
        import asyncio

        self.now += 1
        peak = self.now
        await asyncio.sleep(0.5)
        self.now -= 1
        return {"peak": [peak] * len(batch["id"])}


def test_one_block_runs_every_batch_at_once_not_ray_datas_four(ray_local):
    # A block of 5 batches: Ray Data alone runs 4 and holds the fifth back until one has ended,
    # which left a tail of requests for the engine to run alone (0.71 of plain LLM.generate).
    import ray.data

    vllm_backend.allow_every_batch_of_a_block(8)
    ds = ray.data.range(40, override_num_blocks=1).map_batches(
        _InFlight, batch_size=8, compute=ray.data.ActorPoolStrategy(size=1), num_cpus=0.25)
    assert max(row["peak"] for row in ds.take_all()) == 5


def test_a_model_on_a_uri_is_fetched_by_every_engine_worker_before_it_loads(s3_bucket, tmp_path, monkeypatch):
    from metamath import storage
    from metamath.models import PREFETCH_ENV, prefetch_from_env

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    storage.upload(str(tmp_path / "m"), f"{s3_bucket}/final")
    monkeypatch.setenv("METAMATH_CACHE_DIR", str(tmp_path / "driver-cache"))
    config = engine_config(CFG, f"{s3_bucket}/final")
    env = config.runtime_env
    assert env["worker_process_setup_hook"] == "metamath.models.prefetch_from_env"
    uri, folder = env["env_vars"][PREFETCH_ENV].split("|")
    assert uri == f"{s3_bucket}/final" and config.model_source == folder  # the engine loads the fetched folder
    assert env["env_vars"]["VLLM_LOGGING_LEVEL"] == "WARNING"  # the engine's own variables kept
    monkeypatch.setenv(PREFETCH_ENV, env["env_vars"][PREFETCH_ENV])
    prefetch_from_env()  # what the hook does in each worker, on whichever node it starts
    assert (Path(folder) / "config.json").read_text() == "{}"
