"""Evaluation throughput: generated tokens/s of the evaluate job (Ray Data, actor pool,
store, scoring) against a plain in-process loop with the same backend, prompts, batch size
and decoding settings, in one run.

    python benchmarks/eval_throughput.py [--n 20] [--max-tokens 128] [--batch 10]
    python benchmarks/eval_throughput.py --backend vllm --model PATH --n 500   # on a GPU

CPU: transformers `generate` in both. GPU (--backend vllm): `vllm.LLM.generate` in the plain
loop, `ray.data.llm` engine actors in the job. The job's time is end to end (Ray start,
actors, decoding, scoring, writing); the plain loop's is decoding only.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from metamath.config.schema import EvaluateConfig, MetaMathConfig
from metamath.data import load_benchmark
from metamath.evaluate.requests import decoder_config, render
from metamath.models import resolve_model


def plain_hf(prompts: list[str], cfg: EvaluateConfig, max_tokens: int) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    stop = decoder_config(cfg, "gsm8k").stop
    generated = 0
    for start in range(0, len(prompts), cfg.batch_size):
        enc = tokenizer(prompts[start:start + cfg.batch_size], return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, stop_strings=stop,
                                 tokenizer=tokenizer, pad_token_id=tokenizer.pad_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        generated += int((new != tokenizer.pad_token_id).sum())
    return generated


def plain_vllm(prompts: list[str], cfg: EvaluateConfig, max_tokens: int) -> int:
    from vllm import LLM, SamplingParams

    llm = LLM(resolve_model(cfg.model), tensor_parallel_size=cfg.tensor_parallel_size)
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, stop=decoder_config(cfg, "gsm8k").stop)
    return sum(len(o.outputs[0].token_ids) for o in llm.generate(prompts, params))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--backend", default="hf", choices=["hf", "vllm"])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args()
    out = tempfile.mkdtemp(prefix="eval-bench-")
    cfg = EvaluateConfig(model=args.model, backend=args.backend, benchmarks=["gsm8k"], limit=args.n,
                         max_tokens={"gsm8k": args.max_tokens}, batch_size=args.batch, output_dir=out)
    prompts = [render(p, "paper") for p in load_benchmark("gsm8k", "test", limit=args.n).problems]
    from metamath.evaluate.job import run_evaluate

    started = time.perf_counter()
    report = run_evaluate(MetaMathConfig(evaluate=cfg))["reports"]["gsm8k"]
    job_s = time.perf_counter() - started
    job_tokens = report["decode"]["completion_tokens"]
    started = time.perf_counter()
    plain_tokens = (plain_hf if args.backend == "hf" else plain_vllm)(prompts, cfg, args.max_tokens)
    plain_s = time.perf_counter() - started
    print(f"{args.n} GSM8K prompts, paper template, greedy, {args.max_tokens} new tokens max, batch {args.batch}, "
          f"backend {args.backend}")
    print(f"plain in-process loop   {plain_tokens:6d} tokens in {plain_s:6.1f} s = {plain_tokens / plain_s:7.1f} tokens/s")
    print(f"evaluate job (end to end){job_tokens:6d} tokens in {job_s:6.1f} s = {job_tokens / job_s:7.1f} tokens/s")
    print(f"ratio job/plain         {(job_tokens / job_s) / (plain_tokens / plain_s):7.2f}")


if __name__ == "__main__":
    main()
