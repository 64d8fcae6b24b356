"""A round's groups to the configured backend (openai, hf or vllm) as Ray Data actors, each
response stored as it arrives."""

from __future__ import annotations

import math

import ray

from metamath.config import TeacherConfig
from metamath.ray_data import rebatch
from metamath.ray_utils import LIGHT_CPUS, on_driver_node

CALLS_PER_ACTOR = 4  # batches an `openai` actor works on at once (they share its event loop)


def _limiter(cfg: TeacherConfig, store_root: str, run_tag: str):
    """The round's job-wide limiter, registered so that an interrupt can drain it."""
    from metamath.generation.backends.limiter import RateLimiter
    from metamath.generation.shutdown import register

    from metamath.generation.budget import Budget

    limiter = RateLimiter.options(**on_driver_node()).remote(cfg.max_concurrency, cfg.requests_per_minute,
                                                              cfg.tokens_per_minute, Budget.of(cfg))
    register(limiter, cfg.shutdown_grace_s, store_root, run_tag)
    return limiter


def through_backend(ds, cfg: TeacherConfig, store_root: str, run_tag: str, n_groups: int, chat: bool):
    """Group rows -> one row per sample, each response stored as it arrives."""
    from metamath.models import model_reference
    from metamath.generation.backends import workers

    if cfg.backend != "openai":  # after the keys were made: each worker resolves it on its node
        cfg = cfg.model_copy(update={"model": model_reference(cfg.model)})
    if cfg.backend == "openai":
        # Each actor runs CALLS_PER_ACTOR batches at once on its one event loop, each about its
        # share of the job-wide concurrency: while one batch waits on its slowest request, the
        # others keep the permits busy (one batch at a time sagged to 0.62 of ideal; now ~0.95).
        # Blocks of one batch each: an actor works through the batches of one block in sequence.
        batch = max(1, min(n_groups, math.ceil(cfg.max_concurrency / cfg.replicas)))
        ds = rebatch(ds, batch)
        pool = ray.data.ActorPoolStrategy(size=cfg.replicas, max_concurrent_calls_per_actor=CALLS_PER_ACTOR,
                                          enable_true_multi_threading=True)
        return ds.map_batches(workers.OpenAIWorker, batch_size=batch, batch_format="pandas",
                              fn_constructor_kwargs={"cfg": cfg.model_dump(), "limiter": _limiter(cfg, store_root, run_tag),
                                                     "store_root": store_root, "run": run_tag},
                              compute=pool, num_cpus=0.5)
    if cfg.backend == "hf":
        # Blocks of exactly one generate batch (but the last): the lookup's hash buckets come in
        # uneven sizes, and a loose repartition cut 20 rows into 10 + 7 + 3, three generate calls
        # for the time of two (0.72 of a plain loop's tokens/s; exact blocks: docs/performance.md).
        ds = rebatch(ds, cfg.batch_size, strict=True)
        return ds.map_batches(workers.HFWorker, batch_size=cfg.batch_size, batch_format="pandas",
                              fn_constructor_kwargs={"cfg": cfg.model_dump(), "store_root": store_root, "run": run_tag},
                              compute=ray.data.ActorPoolStrategy(size=cfg.replicas), num_cpus=1,
                              num_gpus=1 if cfg.use_gpu else 0)
    from metamath.generation.backends.vllm_backend import build_vllm_processor, expand_samples

    run = build_vllm_processor(cfg, cfg.model, store_root, run_tag, chat=chat)
    # (No repartition here: its task asks for a whole CPU, which an engine and the chat-template
    # actor leave no room for on 2 cores: the round stalled for good.)
    return run(ds.flat_map(expand_samples, num_cpus=LIGHT_CPUS))
