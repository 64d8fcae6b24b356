"""Training throughput, in one run: a plain single-process torch loop, TRL's `SFTTrainer`, and
`metamath train` (Ray Train + DeepSpeed), on the same model, rows, order, sequence length,
micro batch, accumulation, precision, optimizer and loss (response tokens + EOS only).

    pip install -e '.[bench]'   # TRL: the benchmark's own extra, not a core dependency
    python benchmarks/train_throughput.py [--model smollm2-135m-instruct] [--steps 6] [--micro 2]
        [--global-batch 8] [--precision fp32] [--cpus 2] [--sides plain,trl,job] [--gpu]

The rows are GSM8K training solutions as MetaMathQA rows (no teacher needed), encoded once
with the paper's template and masking; TRL gets them pre-tokenised (`input_ids` and
`completion_mask`), so all three learn from the same tokens. All three read the rows in file
order (`train.shuffle=false`, TRL's sequential sampler) with a constant learning rate, and
each reports the mean of its micro-batch losses per step, so their loss curves can be
compared step by step. The plain loop and TRL (its defaults) train on right-padded
micro-batches, as a user would write them; `metamath train` runs its default,
`train.padding_free` (no pad tokens, LM head only at target positions: the same loss).
Tokens/s counts real (non-pad) tokens over the steps after the first
(allocation, JIT). Ray is shut down before the two baselines run, so they get the machine
to themselves. On a GPU (--gpu) it also prints MFU against the card's dense bf16 peak.
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from metamath.config.schema import MetaMathConfig, TrainConfig
from metamath.models import resolve_model
from metamath.train.collate import pad_batch
from metamath.train.examples import IGNORE_INDEX, encode_example
from metamath.train.metrics import read_metrics

PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
TARGETS = {"job_over_plain": 0.9, "job_over_trl": 1.0, "last_loss_rel_diff": 0.02}


@dataclass
class Side:
    step_tokens: list[int] = field(default_factory=list)
    step_s: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    def tokens_per_s(self) -> float:
        """Over the steps after the first."""
        return sum(self.step_tokens[1:]) / sum(self.step_s[1:])


def gsm8k_rows(path: Path, n: int) -> Path:
    from metamath.augment.assemble import original_records
    from metamath.data import load_benchmark
    from metamath.records import write_jsonl

    problems = load_benchmark("gsm8k", "train", limit=n).problems
    write_jsonl(original_records(problems, "gsm8k"), path)
    return path


def encoded_rows(cfg: TrainConfig, model_path: str, data: Path) -> list[dict]:
    from metamath.train.model import load_tokenizer

    tokenizer = load_tokenizer(model_path)
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    examples = [encode_example(tokenizer, r["query"], r["response"], cfg.template, cfg.max_length) for r in rows]
    return [{"input_ids": e.input_ids, "labels": e.labels} for e in examples if e]


def _dtype(cfg: TrainConfig):
    import torch

    return torch.bfloat16 if cfg.precision == "bf16" else torch.float32


def plain_loop(cfg: TrainConfig, model_path: str, examples: list[dict], threads: int) -> tuple[Side, int]:
    """A bare torch loop: right padding, AdamW, clipping and accumulation as the job's."""
    import torch
    from transformers import AutoModelForCausalLM

    from metamath.train.model import load_tokenizer

    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    device = "cuda" if cfg.use_gpu else "cpu"
    pad_id = load_tokenizer(model_path).pad_token_id
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=_dtype(cfg)).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    accumulation = cfg.global_batch_size // cfg.micro_batch_size
    side, begun = Side(), time.perf_counter()
    for step in range(cfg.max_steps):
        started, tokens, losses = time.perf_counter(), 0, []
        for micro in range(accumulation):
            first = (step * accumulation + micro) * cfg.micro_batch_size
            batch = pad_batch(examples[first:first + cfg.micro_batch_size], pad_id)
            loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
            (loss / accumulation).backward()
            losses.append(float(loss.detach()))
            tokens += int(batch["attention_mask"].sum())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cfg.use_gpu:
            torch.cuda.synchronize()
        side.step_tokens.append(tokens)
        side.step_s.append(time.perf_counter() - started)
        side.losses.append(sum(losses) / len(losses))
    side.wall_s = time.perf_counter() - begun
    return side, sum(p.numel() for p in model.parameters())


def trl_sft(cfg: TrainConfig, model_path: str, examples: list[dict], threads: int, work: Path) -> Side:
    """TRL's SFTTrainer on the same tokens: completion-only loss from `completion_mask`."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from metamath.train.model import load_tokenizer

    torch.set_num_threads(threads)
    side, marks = Side(), []

    class StepClock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            marks.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            if cfg.use_gpu:
                torch.cuda.synchronize()
            marks.append(time.perf_counter())

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                side.losses.append(float(logs["loss"]))

    rows = [{"input_ids": e["input_ids"], "completion_mask": [int(label != IGNORE_INDEX) for label in e["labels"]]}
            for e in examples]
    accumulation = cfg.global_batch_size // cfg.micro_batch_size
    args = SFTConfig(
        output_dir=str(work / "trl"), per_device_train_batch_size=cfg.micro_batch_size,
        gradient_accumulation_steps=accumulation, max_steps=cfg.max_steps, learning_rate=cfg.lr,
        lr_scheduler_type="constant", warmup_steps=0, weight_decay=cfg.weight_decay, max_grad_norm=1.0,
        optim="adamw_torch", seed=cfg.seed, logging_steps=1, report_to="none", save_strategy="no",
        bf16=cfg.precision == "bf16", use_cpu=not cfg.use_gpu, dataloader_num_workers=0,
        max_length=cfg.max_length, completion_only_loss=True, train_sampling_strategy="sequential",
        disable_tqdm=True)
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=_dtype(cfg))
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=load_tokenizer(model_path), callbacks=[StepClock()])
    # Each micro-batch's mean loss, averaged over accumulation (the reference's HF Trainer and the
    # other two sides), not transformers 5's token-weighted sum over the whole step.
    trainer.model_accepts_loss_kwargs = False
    begun = time.perf_counter()
    trainer.train()
    side.wall_s = time.perf_counter() - begun
    side.step_s = [b - a for a, b in zip(marks, marks[1:])]
    per_step = cfg.global_batch_size
    side.step_tokens = [sum(len(e["input_ids"]) for e in examples[s * per_step:(s + 1) * per_step])
                        for s in range(cfg.max_steps)]
    return side


def metamath_job(cfg: TrainConfig) -> Side:
    import ray

    from metamath.train.job import run_train

    begun = time.perf_counter()
    run_train(MetaMathConfig(train=cfg))
    wall = time.perf_counter() - begun
    ray.shutdown()
    rows = read_metrics(cfg.output_dir)
    return Side([r["tokens"] for r in rows], [r["step_s"] for r in rows], [r["loss"] for r in rows], wall)


def train_config(args: argparse.Namespace, data: Path, out: Path) -> TrainConfig:
    resources = {"CPU": args.cpus, **({"GPU": 1} if args.gpu else {})}
    return TrainConfig(model=args.model, data_path=str(data), output_dir=str(out), max_steps=args.steps, epochs=1,
                       micro_batch_size=args.micro, global_batch_size=args.global_batch, lr=1e-5,
                       lr_scheduler="constant", warmup_ratio=0.0, zero_stage=2, precision=args.precision,
                       num_workers=1, use_gpu=args.gpu, resources_per_worker=resources, max_length=512,
                       shuffle=False)


def report(cfg: TrainConfig, sides: dict[str, Side], n_params: int, gpu: bool) -> dict:
    tps = {name: side.tokens_per_s() for name, side in sides.items()}
    last = {name: side.losses[-1] for name, side in sides.items()}
    figures: dict = {"steps": cfg.max_steps, "global_batch": cfg.global_batch_size, "micro": cfg.micro_batch_size,
                     "precision": cfg.precision, "params_m": round(n_params / 1e6, 1),
                     **{f"{name}_tokens_per_s": round(v, 1) for name, v in tps.items()},
                     **{f"{name}_wall_s": round(side.wall_s, 1) for name, side in sides.items()},
                     "losses": {name: [round(x, 4) for x in side.losses] for name, side in sides.items()}}
    print(f"{'side':<22}{'tokens/s':>10}{'last loss':>11}{'wall s':>9}")
    for name, side in sides.items():
        print(f"{name:<22}{tps[name]:>10.1f}{last[name]:>11.4f}{side.wall_s:>9.0f}")
    for other in ("plain", "trl"):
        if "job" in tps and other in tps:
            figures[f"job_over_{other}"] = round(tps["job"] / tps[other], 3)
            print(f"metamath train / {other}: {figures[f'job_over_{other}']:.2f}")
    if "plain" in last:
        for name in (n for n in last if n != "plain"):
            figures[f"{name}_last_loss_rel_diff"] = round(abs(last[name] - last["plain"]) / last["plain"], 4)
            print(f"last-step loss, {name} vs plain: {figures[f'{name}_last_loss_rel_diff']:.2%} apart")
    if gpu:
        figures.update(mfu(tps, n_params))
    figures["targets"] = TARGETS
    return figures


def mfu(tps: dict[str, float], n_params: int) -> dict[str, float]:
    import torch

    name = torch.cuda.get_device_name()
    peak = next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)
    out = {f"mfu_{side}": round(6 * n_params * v / peak, 4) for side, v in tps.items()} if peak else {}
    for key, value in out.items():
        print(f"{key}: {value:.1%} of {name} dense bf16 peak")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--micro", type=int, default=2)
    parser.add_argument("--global-batch", type=int, default=8)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--sides", default="job,plain,trl", help="which of job, plain, trl to run")
    parser.add_argument("--config-model", default=None, metavar="HIDDEN,LAYERS",
                        help="a config-built Llama of this size (random weights) instead of --model")
    args = parser.parse_args()
    if args.config_model:
        from metamath.testing.tiny import make_tiny_llama

        hidden, layers = (int(x) for x in args.config_model.split(","))
        args.model = str(make_tiny_llama(Path(tempfile.mkdtemp()) / "llama", hidden=hidden, layers=layers))
    work = Path(tempfile.mkdtemp(prefix="train-bench-"))
    data = gsm8k_rows(work / "mmqa.jsonl", args.global_batch * args.steps)
    cfg, model_path = train_config(args, data, work / "out"), resolve_model(args.model)
    examples = encoded_rows(cfg, model_path, data)
    wanted, sides, n_params = args.sides.split(","), {}, 0
    if "job" in wanted:  # first, so that Ray is gone before the baselines run
        sides["job"] = metamath_job(cfg)
    if "plain" in wanted:
        sides["plain"], n_params = plain_loop(cfg, model_path, examples, args.cpus)
    if "trl" in wanted:
        sides["trl"] = trl_sft(cfg, model_path, examples, args.cpus, work)
    print(f"model {args.model}, {args.steps} steps of {args.global_batch} rows (micro {args.micro}), "
          f"{args.precision}, first step excluded")
    print(json.dumps(report(cfg, sides, n_params, args.gpu)))


if __name__ == "__main__":
    main()
