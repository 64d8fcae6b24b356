"""The `vllm` backend: vLLM engine actors on GPUs through `ray.data.llm`.

Groups are expanded to one row per sample (each with its own seed, so a re-run of a missing
sample is reproducible); `build_processor` runs chat templating, tokenisation, the engine
and detokenisation; our postprocess maps to the TeacherResponse schema and stores it.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from metamath.config import TeacherConfig
from metamath.teacher.requests import TeacherResponse


def engine_config(cfg: TeacherConfig, model_source: str, max_model_len: int = 4096, chat: bool = True):
    """`chat=False` for raw prompts (the paper's evaluation template): no chat template stage."""
    from ray.data.llm import vLLMEngineProcessorConfig

    return vLLMEngineProcessorConfig(
        chat_template_stage=chat,
        model_source=model_source,
        engine_kwargs={"tensor_parallel_size": cfg.tensor_parallel_size, "max_model_len": max_model_len,
                       "enable_prefix_caching": True},  # 8-shot prompts share long prefixes
        concurrency=cfg.replicas,
        batch_size=cfg.batch_size,
        accelerator_type=None,
    )


def expand_samples(group: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key, index in zip(group["keys"], group["sample_indices"]):
        yield {"key": key, "sample_index": int(index), "messages_json": group["messages"], "meta": group["meta"]}


def preprocess_row(row: dict[str, Any], cfg: TeacherConfig) -> dict[str, Any]:
    request = json.loads(row["messages_json"])
    params = {"temperature": cfg.temperature, "top_p": cfg.top_p, "max_tokens": cfg.max_tokens,
              "seed": int(row["key"][:8], 16)}
    if cfg.stop:
        params["stop"] = list(cfg.stop)
    prompt = {"prompt": request} if isinstance(request, str) else {"messages": request}
    return {**row, **prompt, "sampling_params": params}


def postprocess_row(row: dict[str, Any]) -> dict[str, Any]:
    response = TeacherResponse(row["key"], row.get("generated_text"), "ok", None, None,
                               int(row.get("num_input_tokens") or 0), int(row.get("num_generated_tokens") or 0))
    if response.text is None:
        response.status, response.reason = "failed", "engine_error"
    return {**response.to_row(), "meta": row["meta"], "sample_index": row["sample_index"]}


def build_vllm_processor(cfg: TeacherConfig, model_source: str, store_root: str, chat: bool = True,
                         max_model_len: int = 4096):
    """A ray.data.llm Processor: Dataset of expanded samples -> Dataset of response rows."""
    from ray.data.llm import build_processor

    from metamath.teacher.store import StoreWriter

    writer: list[StoreWriter] = []

    def post(row: dict[str, Any]) -> dict[str, Any]:
        out = postprocess_row(row)
        if not writer:
            writer.append(StoreWriter(store_root))
        writer[0].append(TeacherResponse.from_row(out))
        return out

    return build_processor(engine_config(cfg, model_source, max_model_len, chat), preprocess=lambda row: preprocess_row(row, cfg),
                           postprocess=post)
