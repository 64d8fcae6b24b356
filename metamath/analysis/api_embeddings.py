"""`openai:<model>` embeddings for the diversity gain: the OpenAI-compatible `/v1/embeddings`
endpoint, called with the teacher's client settings (base_url, key from the environment,
timeout, retries with backoff and Retry-After), under the job-wide limiter, and every vector
kept in the content-keyed response store, so an embedding is never bought twice: a re-run (or
another analysis over the same texts) reads it back.

The store row's key hashes (endpoint, model, input text); its text is the vector as JSON.
Texts run in Ray Data `map_batches` on actors; each request carries `batch_size` inputs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from typing import Any

import numpy as np

from metamath.config import TeacherConfig
from metamath.errors import DataError
from metamath.generation.requests import TeacherResponse


def embedding_key(model: str, text: str) -> str:
    payload = json.dumps({"backend": "openai", "endpoint": "embeddings", "model": model, "input": text},
                         sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class APIEmbedder:
    """Ray Data actor: texts -> vectors through the endpoint, each vector stored as it arrives."""

    def __init__(self, cfg: TeacherConfig, limiter: Any, store_root: str, run: str) -> None:
        from openai import AsyncOpenAI

        from metamath.generation.backends.limiter import PermitClient
        from metamath.generation.backends.openai_backend import LoopThread, api_key
        from metamath.generation.cache.store import process_writer

        self.cfg, self.rng = cfg, random.Random()
        self.client = AsyncOpenAI(base_url=cfg.base_url, api_key=api_key(cfg.api_key_env), max_retries=0,
                                  timeout=cfg.timeout_s)
        self.permits = PermitClient(limiter, recycle=cfg.requests_per_minute is None and cfg.tokens_per_minute is None)
        self.writer, self.loop = process_writer(store_root, run), LoopThread()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        texts, keys = [str(t) for t in batch["text"]], [str(k) for k in batch["key"]]
        vectors = self.loop.run(self._embed(texts))
        for key, text, vector in zip(keys, texts, vectors):
            self.writer.append(TeacherResponse(key, json.dumps(vector), "ok", prompt_tokens=len(text) // 4,
                                               finished_at=time.time()))
        self.writer.flush()  # paid for: on disk before the batch is handed on
        return {"index": batch["index"], "embedding": np.asarray(vectors, dtype=np.float32)}

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        from metamath.errors import EndpointRejected
        from metamath.generation.backends.openai_backend import FATAL, backoff_s, classify, rejected, retry_after_s

        estimate = sum(len(t) for t in texts) // 4
        for attempt in range(self.cfg.max_retries + 1):
            await self.permits.acquire(estimate)
            used = None
            try:
                reply = await asyncio.wait_for(self.client.embeddings.create(model=self.cfg.model, input=texts),
                                               self.cfg.timeout_s)
                used = getattr(getattr(reply, "usage", None), "total_tokens", None)
                return [item.embedding for item in sorted(reply.data, key=lambda d: d.index)]
            except EndpointRejected:
                raise
            except Exception as exc:  # noqa: BLE001 - classified: retried, or fatal for the run
                if getattr(exc, "status_code", None) in FATAL:
                    raise rejected(exc, self.cfg) from None
                reason, retryable = classify(exc)
                if not retryable or attempt == self.cfg.max_retries:
                    raise DataError(f"embeddings from {self.cfg.base_url or 'the OpenAI API'} failed ({reason}) "
                                    f"after {attempt + 1} attempt(s); vectors already bought are stored") from None
                wait = retry_after_s(exc)
                if reason == "http_429" and wait:
                    self.permits.pause(wait)
                await asyncio.sleep(backoff_s(attempt, wait, self.rng))
            finally:
                self.permits.release(estimate, used)
        raise AssertionError("unreachable")


def stored_vectors(store_root: str, keys: set[str]) -> dict[str, np.ndarray]:
    from metamath.generation.cache.store import load_responses

    responses, _ = load_responses(store_root)
    return {k: np.asarray(json.loads(r.text), dtype=np.float32) for k, r in responses.items()
            if k in keys and r.status == "ok" and r.text}


def embed_via_api(texts: list[str], cfg: TeacherConfig, store_root: str, batch_size: int = 64,
                  replicas: int = 1) -> tuple[np.ndarray, dict[str, int]]:
    """An (N, d) array for `texts`, and {sent, from_store}: only texts never embedded are sent."""
    import uuid

    import ray

    from metamath.ray_data import small_dataset
    from metamath.ray_utils import ensure_ray, on_driver_node
    from metamath.generation.backends.limiter import RateLimiter
    from metamath.generation.cache.store import Store

    keys = [embedding_key(cfg.model, t) for t in texts]
    Store(store_root).compact()  # an interrupted run's journal becomes readable first
    have = stored_vectors(store_root, set(keys))
    missing = {k: t for k, t in zip(keys, texts) if k not in have}
    if missing:
        ensure_ray()
        limiter = RateLimiter.options(**on_driver_node()).remote(cfg.max_concurrency, cfg.requests_per_minute,
                                                                  cfg.tokens_per_minute)
        rows = small_dataset([{"index": i, "key": k, "text": t} for i, (k, t) in enumerate(missing.items())],
                             rows_per_block=batch_size)
        fresh = rows.map_batches(APIEmbedder, fn_constructor_args=(cfg, limiter, store_root, uuid.uuid4().hex[:8]),
                                 batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=replicas),
                                 num_cpus=0.25, batch_format="numpy").take_all()
        have.update({list(missing)[int(row["index"])]: np.asarray(row["embedding"], dtype=np.float32) for row in fresh})
    return np.stack([have[k] for k in keys]), {"sent": len(missing), "from_store": len(keys) - len(missing)}
