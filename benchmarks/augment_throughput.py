"""Teacher-call throughput against a SCRIPTED OpenAI-compatible server with fixed latency.

    python benchmarks/augment_throughput.py [--requests 3000] [--latency 0.2] [--concurrency 64]

Every variant sends the same 8-shot GSM8K solve prompts to a fresh scripted server on
127.0.0.1, in the same run:
  (a) ideal: max_concurrency / latency
  (b) a bare asyncio loop with the `openai` client and a semaphore
  (c) a multiprocessing pool of 20 synchronous clients (the reference code's design)
  (d) Ray Data's HttpRequestProcessorConfig with the same number of workers as (e)
  (e) `metamath augment` (openai backend, AnsAug, one sample per question)
Steady-state requests/s is read from the server's own log: responses between the 10th and
90th percentile of completion times, divided by that span. Wall-clock rates are printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from multiprocessing import Pool

from metamath.data import load_benchmark
from metamath.prompts import select_solve_shots, solve_messages
from metamath.testing.scripted_server import Script, ServerProcess

POOL_SIZE = 20


def steady_rate(log_path: str) -> float:
    times = sorted(json.loads(line)["t"] for line in open(log_path))
    lo, hi = times[len(times) // 10], times[(len(times) * 9) // 10]
    count = sum(lo <= t <= hi for t in times)
    return count / (hi - lo) if hi > lo else float("nan")


def run_asyncio(base_url: str, prompts: list, concurrency: int) -> None:
    from openai import AsyncOpenAI

    async def main():
        client = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
        gate = asyncio.Semaphore(concurrency)

        async def one(messages):
            async with gate:
                await client.chat.completions.create(model="scripted", messages=messages, max_tokens=256)

        await asyncio.gather(*(one(m) for m in prompts))

    asyncio.run(main())


def _sync_call(args):
    base_url, messages = args
    from openai import OpenAI

    client = _sync_call.client = getattr(_sync_call, "client", None) or OpenAI(base_url=base_url, api_key="EMPTY")
    client.chat.completions.create(model="scripted", messages=messages, max_tokens=256)


def run_pool(base_url: str, prompts: list) -> None:
    with Pool(POOL_SIZE) as pool:
        pool.map(_sync_call, [(base_url, m) for m in prompts], chunksize=1)


def run_ray_http(base_url: str, prompts: list, workers: int) -> None:
    import ray
    from ray.data.llm import HttpRequestProcessorConfig, build_processor

    config = HttpRequestProcessorConfig(url=f"{base_url}/chat/completions", concurrency=workers, batch_size=64)
    processor = build_processor(config, preprocess=lambda row: {"payload": {
        "model": "scripted", "messages": json.loads(row["messages"]), "max_tokens": 256}})
    processor(ray.data.from_items([{"messages": json.dumps(m)} for m in prompts])).materialize()


def run_augment(base_url: str, n: int, concurrency: int, workers: int) -> None:
    from metamath.augment.job import run_augment as augment
    from metamath.config import load_config

    out = tempfile.mkdtemp(prefix="mm-bench-")
    try:
        augment(load_config(None, [
            "augment.dataset=gsm8k", f"augment.limit={n}", "augment.methods=[ansaug]", "augment.samples={ansaug: 1}",
            f"augment.output_dir={out}", "augment.decontaminate=false", "teacher.backend=openai",
            f"teacher.base_url={base_url}", "teacher.model=scripted", f"teacher.max_concurrency={concurrency}",
            f"teacher.replicas={workers}", "teacher.max_tokens=256",
        ]))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def measure(name: str, latency: float, fn, results: dict) -> None:
    log = tempfile.mktemp(suffix=".jsonl")
    with ServerProcess(Script(latency_s=latency, log_path=log)) as server:
        start = time.perf_counter()
        fn(server.base_url)
        wall = time.perf_counter() - start
    n = sum(1 for _ in open(log))
    results[name] = {"steady": steady_rate(log), "wall": n / wall, "requests": n}
    os.remove(log)
    print(f"  {name}: {results[name]['steady']:.1f} req/s steady, {results[name]['wall']:.1f} req/s wall ({n} requests)",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="Ray actors for (d) and (e)")
    parser.add_argument("--only", default="abcde", help="variants to run, e.g. 'be'")
    args = parser.parse_args()

    from metamath.ray_utils import ensure_ray

    ensure_ray()
    train = load_benchmark("gsm8k", "train").problems
    shots = select_solve_shots(train, 0)
    prompts = [solve_messages(p.question, shots) for p in train[: args.requests]]
    ideal = args.concurrency / args.latency
    results: dict = {}
    print(f"{len(prompts)} requests, latency {args.latency}s, max_concurrency {args.concurrency}; "
          f"(a) ideal {ideal:.1f} req/s", flush=True)
    variants = {
        "b": ("(b) bare asyncio + openai", lambda url: run_asyncio(url, prompts, args.concurrency)),
        "c": (f"(c) pool of {POOL_SIZE} sync clients", lambda url: run_pool(url, prompts)),
        "d": (f"(d) Ray Data HttpRequestProcessor x{args.workers}", lambda url: run_ray_http(url, prompts, args.workers)),
        "e": ("(e) metamath augment", lambda url: run_augment(url, len(prompts), args.concurrency, args.workers)),
    }
    for letter in "bcde":
        if letter in args.only:
            measure(*variants[letter][:1], args.latency, variants[letter][1], results)
    ours = results.get("(e) metamath augment", {}).get("steady", float("nan"))
    print("\n| variant | steady req/s | wall req/s | metamath / variant (steady) |\n|---|---:|---:|---:|")
    print(f"| (a) ideal | {ideal:.1f} | - | {ours / ideal:.2f} |")
    for name, r in results.items():
        print(f"| {name} | {r['steady']:.1f} | {r['wall']:.1f} | {ours / r['steady']:.2f} |")


if __name__ == "__main__":
    main()
