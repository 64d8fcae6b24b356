"""Teacher-call throughput against a SCRIPTED OpenAI-compatible server with fixed latency.

    python benchmarks/augment_throughput.py [--requests 5000] [--latency 0.2] [--concurrency 64] [--wide 1.0,256]

Every variant sends the same 8-shot GSM8K solve prompts to a fresh scripted server on
127.0.0.1, in the same run:
  (a) ideal: max_concurrency / latency
  (b) a bare asyncio loop with the `openai` client and a semaphore
  (c) a multiprocessing pool of 20 synchronous clients (the reference code's design)
  (d) Ray Data's HttpRequestProcessorConfig with the same number of workers as (e)
  (e) `metamath augment` (openai backend, AnsAug, one sample per question)
A second setting (`--wide`, default 1 s latency and max_concurrency 256, closer to a real
API's latency) runs (b), (c) and (e) again: at 200 ms and 64 the pool of 20 already gets
100 of the 320 req/s ideal, so no client can be 5x faster there.
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
    if os.environ.get("KEEP_LOG"):
        shutil.copy(log, os.environ["KEEP_LOG"])
    os.remove(log)
    print(f"  {name}: {results[name]['steady']:.1f} req/s steady, {results[name]['wall']:.1f} req/s wall ({n} requests)",
          flush=True)


def run_setting(prompts: list, latency: float, concurrency: int, args, letters: str) -> None:
    """Every chosen variant against a fresh server at this latency, then one table."""
    few = prompts[: args.baseline_requests]  # the slow baselines: a steady rate needs fewer requests
    variants = {
        "b": ("(b) bare asyncio + openai", lambda url: run_asyncio(url, prompts, concurrency)),
        "c": (f"(c) pool of {POOL_SIZE} sync clients", lambda url: run_pool(url, few)),
        "d": (f"(d) Ray Data HttpRequestProcessor x{args.workers}", lambda url: run_ray_http(url, few, args.workers)),
        "e": ("(e) metamath augment", lambda url: run_augment(url, len(prompts), concurrency, args.workers)),
    }
    ideal = concurrency / latency
    print(f"\nlatency {latency}s, max_concurrency {concurrency}: (a) ideal {ideal:.1f} req/s", flush=True)
    results: dict = {}
    for letter in "bcde":
        if letter in letters:
            measure(variants[letter][0], latency, variants[letter][1], results)
    ours = results.get("(e) metamath augment", {}).get("steady", float("nan"))
    print(f"\n| latency {latency}s, max_concurrency {concurrency} | requests | steady req/s | wall req/s "
          "| metamath / variant (steady) |\n|---|---:|---:|---:|---:|")
    print(f"| (a) ideal | - | {ideal:.1f} | - | {ours / ideal:.2f} |")
    for name, r in results.items():
        print(f"| {name} | {r['requests']} | {r['steady']:.1f} | {r['wall']:.1f} | {ours / r['steady']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--baseline-requests", type=int, default=600, help="requests for (c) and (d)")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="Ray actors for (d) and (e)")
    parser.add_argument("--only", default="bcde", help="variants to run, e.g. 'be'")
    parser.add_argument("--wide", default="1.0,256", help="a second setting LATENCY,CONCURRENCY for (b), (c), "
                        "(e), where the pool of 20 is far below ideal (its ceiling is 20 / latency); '' skips it")
    args = parser.parse_args()

    from metamath.ray_utils import ensure_ray

    ensure_ray()
    train = load_benchmark("gsm8k", "train").problems
    shots = select_solve_shots(train, 0)
    prompts = [solve_messages(p.question, shots) for p in train[: args.requests]]
    print(f"{len(prompts)} requests ({args.baseline_requests} for the pool and Ray's HTTP processor)", flush=True)
    run_setting(prompts, args.latency, args.concurrency, args, args.only)
    if args.wide:
        latency, concurrency = args.wide.split(",")
        run_setting(prompts, float(latency), int(concurrency), args, args.only.replace("d", ""))


if __name__ == "__main__":
    main()
