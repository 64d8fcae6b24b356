"""Evaluation throughput: generated tokens/s of the evaluate job (Ray Data, actors, store,
scoring) against a plain in-process loop with the same engine, prompts, batch size and
decoding settings; for each backend, all in one run.

    python benchmarks/eval_throughput.py [--n 64] [--max-tokens 128] [--batch 8] [--backends hf vllm] [--repeat 3]

hf: transformers `generate` in both. vllm (run it with .venv-vllm/bin/python, or on a GPU with
--gpu): `vllm.LLM.generate` in the plain loop, `ray.data.llm` engine actors in the job, with the
same engine settings (CPU: eager, float32, the job's KV cache and core binding).
Tokens/s leave start-up out on both sides: the plain loop times `generate` alone, the job its
decoding window (first request out to last reply in, from the per-response timestamps). Start-up
(the engine or model, and for the job Ray, actors and scheduling) is printed separately.
Runs on 2 shared cores drift by 10-15% from one to the next, so `--repeat` alternates the two
sides (plain then job, fresh engines each round) and the ratio is paired: each round's job / plain,
then the median of those, so that a round disturbed on both sides or one side cancels or drops out
instead of pairing one round's plain with another round's job. Each side's tokens/s is its median
round; the ratio of those two medians is printed too.
The last line is one JSON object with every figure and ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import tempfile
import time

from metamath.config.schema import EvaluateConfig, MetaMathConfig
from metamath.data import load_benchmark
from metamath.evaluate.requests import decoder_config, render
from metamath.models import resolve_model


def plain_hf(prompts: list[str], cfg: EvaluateConfig, max_tokens: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    path = resolve_model(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    startup = time.perf_counter() - started
    torch.set_num_threads(os.cpu_count() or 1)
    stop, generated, started = decoder_config(cfg, "gsm8k").stop, 0, time.perf_counter()
    for start in range(0, len(prompts), cfg.batch_size):
        enc = tokenizer(prompts[start:start + cfg.batch_size], return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, stop_strings=stop,
                                 tokenizer=tokenizer, pad_token_id=tokenizer.pad_token_id)
        generated += int((out[:, enc["input_ids"].shape[1]:] != tokenizer.pad_token_id).sum())
    return {"tokens": generated, "decode_s": time.perf_counter() - started, "startup_s": startup}


def plain_vllm(prompts: list[str], cfg: EvaluateConfig, max_tokens: int) -> dict:
    from metamath.generation.backends.vllm_backend import engine_kwargs, runtime_env

    decoder = decoder_config(cfg, "gsm8k")
    os.environ.update(runtime_env(decoder)["env_vars"])  # the job's engine environment
    started = time.perf_counter()
    from vllm import LLM, SamplingParams

    llm = LLM(resolve_model(cfg.model), **engine_kwargs(decoder, decoder.max_model_len))
    startup = time.perf_counter() - started
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, stop=decoder.stop)
    started = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    decode = time.perf_counter() - started
    llm.llm_engine.engine_core.shutdown()  # its engine process must not compete with the job's
    return {"tokens": sum(len(o.outputs[0].token_ids) for o in outputs), "decode_s": decode, "startup_s": startup}


def evaluate_job(cfg: EvaluateConfig) -> dict:
    from metamath.evaluate.job import run_evaluate

    started = time.perf_counter()
    decode = run_evaluate(MetaMathConfig(evaluate=cfg))["reports"]["gsm8k"]["decode"]
    wall = time.perf_counter() - started
    return {"tokens": decode["completion_tokens"], "decode_s": decode["window_s"], "startup_s": wall - decode["window_s"],
            "wall_s": wall}


def measure_once(backend: str, args: argparse.Namespace, prompts: list[str]) -> dict:
    cfg = EvaluateConfig(model=args.model, backend=backend, benchmarks=["gsm8k"], limit=args.n,
                         max_tokens={"gsm8k": args.max_tokens}, batch_size=args.batch, use_gpu=args.gpu,
                         output_dir=tempfile.mkdtemp(prefix=f"eval-bench-{backend}-"))
    plain = (plain_hf if backend == "hf" else plain_vllm)(prompts, cfg, args.max_tokens)
    job = evaluate_job(cfg)
    for side in (plain, job):
        side["tokens_per_s"] = side["tokens"] / side["decode_s"]
    return {"plain": plain, "job": job}


def measure(backend: str, args: argparse.Namespace, prompts: list[str]) -> dict:
    """`--repeat` rounds of plain then job (fresh engines each time, so both sides share the
    machine's drift); each side's figures are the round with its median tokens/s, and
    job_over_plain the median of the rounds' own ratios."""
    rounds = []
    for index in range(args.repeat):
        rounds.append(measure_once(backend, args, prompts))
        print(f"[{backend} round {index + 1}/{args.repeat}] plain {rounds[-1]['plain']['tokens_per_s']:.1f} tokens/s, "
              f"job {rounds[-1]['job']['tokens_per_s']:.1f}", flush=True)  # what a cut-short run still shows
    result: dict = {}
    for side in ("plain", "job"):
        ranked = sorted((r[side] for r in rounds), key=lambda r: r["tokens_per_s"])
        result[side] = {**ranked[(len(ranked) - 1) // 2], "rounds_tokens_per_s": [r[side]["tokens_per_s"] for r in rounds]}
    result["rounds_job_over_plain"] = [r["job"]["tokens_per_s"] / r["plain"]["tokens_per_s"] for r in rounds]
    result["job_over_plain"] = statistics.median(result["rounds_job_over_plain"])
    result["job_over_plain_of_medians"] = result["job"]["tokens_per_s"] / result["plain"]["tokens_per_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--backends", nargs="+", default=None, choices=["hf", "vllm"],
                        help="default: hf, and vllm when it is installed")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of plain + job; the median of the rounds' ratios counts")
    args = parser.parse_args()
    backends = args.backends or ["hf"] + (["vllm"] if importlib.util.find_spec("vllm") else [])
    prompts = [render(p, "paper") for p in load_benchmark("gsm8k", "test", limit=args.n).problems]
    results = {backend: measure(backend, args, prompts) for backend in backends}
    print(f"\n{args.n} GSM8K prompts, median of {args.repeat} round(s), paper template, greedy, {args.max_tokens} new tokens max, batch {args.batch}, "
          f"{'GPU' if args.gpu else f'CPU ({os.cpu_count()} cores)'}")
    print(f"{'backend':8s} {'side':6s} {'tokens':>7s} {'decode s':>9s} {'tokens/s':>9s} {'start-up s':>11s}")
    figures: dict = {"n": args.n, "max_tokens": args.max_tokens, "batch": args.batch}
    for backend, result in results.items():
        for side in ("plain", "job"):
            r = result[side]
            rounds = ", ".join(f"{v:.1f}" for v in r["rounds_tokens_per_s"])
            print(f"{backend:8s} {side:6s} {r['tokens']:7d} {r['decode_s']:9.1f} {r['tokens_per_s']:9.1f} "
                  f"{r['startup_s']:11.1f}   rounds: {rounds}")
            figures.update({f"{backend}_{side}_{k}": round(v, 3) for k, v in r.items() if k != "rounds_tokens_per_s"})
            figures[f"{backend}_{side}_rounds_tokens_per_s"] = [round(v, 3) for v in r["rounds_tokens_per_s"]]
        per_round = ", ".join(f"{v:.3f}" for v in result["rounds_job_over_plain"])
        print(f"{backend:8s} job / plain tokens/s = {result['job_over_plain']:.3f} (median of the rounds' ratios: {per_round}; "
              f"ratio of the two medians {result['job_over_plain_of_medians']:.3f})")
        for key in ("job_over_plain", "job_over_plain_of_medians"):
            figures[f"{backend}_{key}"] = round(result[key], 3)
        figures[f"{backend}_rounds_job_over_plain"] = [round(v, 3) for v in result["rounds_job_over_plain"]]
    if {"hf", "vllm"} <= results.keys():
        for side in ("plain", "job"):
            ratio = results["vllm"][side]["tokens_per_s"] / results["hf"][side]["tokens_per_s"]
            print(f"vllm / hf tokens/s ({side}) = {ratio:.2f}")
            figures[f"vllm_over_hf_{side}"] = round(ratio, 3)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
