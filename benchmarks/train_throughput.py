"""Training throughput: the Ray Train + DeepSpeed job against a plain single-process torch
loop on the same model, rows, micro batch and accumulation, in one run.

    python benchmarks/train_throughput.py [--model smollm2-135m-instruct] [--steps 5]
        [--micro 2] [--global-batch 8] [--precision fp32] [--gpu]

The data are the GSM8K training solutions as MetaMathQA rows (no teacher needed).
Tokens/s counts real (non-pad) tokens; the first optimizer step of each side is left out
(allocation, JIT). On a GPU (--gpu) it also prints MFU against the card's dense bf16 peak.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from metamath.config.schema import MetaMathConfig, TrainConfig
from metamath.models import resolve_model
from metamath.train.collate import pad_batch
from metamath.train.examples import encode_example
from metamath.train.metrics import read_metrics

PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def gsm8k_rows(path: Path, n: int) -> Path:
    from metamath.augment.assemble import original_records
    from metamath.data import load_benchmark
    from metamath.records import write_jsonl

    problems = load_benchmark("gsm8k", "train", limit=n).problems
    write_jsonl(original_records(problems, "gsm8k"), path)
    return path


def plain_loop(cfg: TrainConfig, model_path: str, data: Path, threads: int) -> tuple[float, int]:
    """tokens/s of a bare torch loop: same encode, padding, AdamW, clipping, accumulation."""
    import torch
    from transformers import AutoModelForCausalLM

    from metamath.train.model import load_tokenizer

    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    device = "cuda" if cfg.use_gpu else "cpu"
    tokenizer = load_tokenizer(model_path)
    dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    examples = [encode_example(tokenizer, r["query"], r["response"], cfg.template, cfg.max_length) for r in rows]
    examples = [{"input_ids": e.input_ids, "labels": e.labels} for e in examples if e]
    accumulation = cfg.global_batch_size // cfg.micro_batch_size
    tokens, started = 0, None
    for step in range(cfg.max_steps):
        if step == 1:
            tokens, started = 0, time.perf_counter()
        for micro in range(accumulation):
            first = (step * accumulation + micro) * cfg.micro_batch_size % len(examples)
            batch = pad_batch(examples[first:first + cfg.micro_batch_size], tokenizer.pad_token_id)
            loss = model(**{k: v.to(device) for k, v in batch.items()}).loss / accumulation
            loss.backward()
            tokens += int(batch["attention_mask"].sum())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if cfg.use_gpu:
        torch.cuda.synchronize()
    return tokens / (time.perf_counter() - started), sum(p.numel() for p in model.parameters())


def ray_job(cfg: TrainConfig) -> tuple[float, float]:
    from metamath.train.job import run_train

    started = time.perf_counter()
    run_train(MetaMathConfig(train=cfg))
    wall = time.perf_counter() - started
    rows = read_metrics(cfg.output_dir)[1:]
    return sum(r["tokens_per_s"] for r in rows) / len(rows), wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--micro", type=int, default=2)
    parser.add_argument("--global-batch", type=int, default=8)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--plain-only", action="store_true", help="only the plain loop (a machine without Ray)")
    parser.add_argument("--config-model", default=None, metavar="HIDDEN,LAYERS",
                        help="a config-built Llama of this size (random weights) instead of --model")
    args = parser.parse_args()
    if args.config_model:
        from metamath.testing.tiny import make_tiny_llama

        hidden, layers = (int(x) for x in args.config_model.split(","))
        args.model = str(make_tiny_llama(Path(tempfile.mkdtemp()) / "llama", hidden=hidden, layers=layers))
    work = Path(tempfile.mkdtemp(prefix="train-bench-"))
    data = gsm8k_rows(work / "mmqa.jsonl", args.global_batch * args.steps)
    resources = {"CPU": args.cpus, **({"GPU": 1} if args.gpu else {})}
    cfg = TrainConfig(model=args.model, data_path=str(data), output_dir=str(work / "out"), max_steps=args.steps,
                      epochs=1, micro_batch_size=args.micro, global_batch_size=args.global_batch, lr=1e-5,
                      warmup_ratio=0.0, zero_stage=2, precision=args.precision, num_workers=1, use_gpu=args.gpu,
                      resources_per_worker=resources, max_length=512)
    ray_tps, wall = (None, None) if args.plain_only else ray_job(cfg)
    plain_tps, n_params = plain_loop(cfg, resolve_model(args.model), data, args.cpus)
    print(f"model {args.model} ({n_params / 1e6:.0f}M params), {args.steps} steps of {args.global_batch} rows "
          f"(micro {args.micro}), {args.precision}, first step excluded")
    print(f"plain torch loop          {plain_tps:9.1f} tokens/s")
    if ray_tps is not None:
        print(f"Ray Train + DeepSpeed     {ray_tps:9.1f} tokens/s   (job wall time {wall:.0f} s incl. Ray start)")
        print(f"ratio Ray+DeepSpeed/plain {ray_tps / plain_tps:9.2f}")
    if args.gpu:
        import torch

        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)
        for label, tps in (("plain", plain_tps), ("ray", ray_tps)):
            if peak and tps is not None:
                print(f"MFU {label}: {6 * n_params * tps / peak:.1%} of {name} dense bf16 peak")


if __name__ == "__main__":
    main()
