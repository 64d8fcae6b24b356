"""Engine starts and wall time of a 4-benchmark evaluation: one decode per model against one
decode per benchmark (what `metamath evaluate` did before), in one run.

    .venv-vllm/bin/python benchmarks/eval_engine_starts.py [--limit 4] [--max-tokens 48] [--samples 1]

Both sides run `run_evaluate` on the embedded model (SmolLM2-135M-Instruct, real weights) with
`evaluate.backend` (vllm on CPU by default; `--backend hf` for a machine without vLLM) over
gsm8k, math, math500 and gsm8k_backward with the paper prompt, each on a fresh output folder (so
nothing comes from a store):
- one run: every benchmark (and the sampled pass with --samples > 1) in one evaluate run;
- per benchmark: one evaluate run per benchmark, as the code before made one generation round
  (one engine start per replica) per benchmark. (It also made one per sampled pass: with
  --samples > 1 this side understates the code before.)
Engine starts are counted as the generation rounds that sent requests, times the replicas (each
round starts its backend's actors: a vLLM engine per replica). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS = ["gsm8k", "math", "math500", "gsm8k_backward"]


def check_dependencies(backend: str) -> None:
    needed = ["ray", "transformers"] + (["vllm"] if backend == "vllm" else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit(f"benchmarks/eval_engine_starts.py needs {', '.join(missing)} "
                         f"(vLLM: make install-vllm, then run it with .venv-vllm/bin/python)")


class RoundCounter:
    """Wraps the generation round that evaluate calls: counts the rounds that sent requests."""

    def __init__(self) -> None:
        from metamath.evaluate import decode

        self.rounds: list[tuple[str, int]] = []
        real = decode.run_round

        def counted(*args, **kwargs):
            done = real(*args, **kwargs)
            self.rounds.append((args[4], done.run.sent))
            return done

        decode.run_round = counted

    def take(self) -> list[tuple[str, int]]:
        rounds, self.rounds = self.rounds, []
        return rounds


def evaluate(benchmarks: list[str], args, out: Path) -> float:
    from metamath.config.schema import EvaluateConfig, MetaMathConfig
    from metamath.evaluate.job import run_evaluate

    cfg = EvaluateConfig(backend=args.backend, benchmarks=benchmarks, limit=args.limit, prompt="paper",
                         max_tokens={name: args.max_tokens for name in benchmarks}, batch_size=8, replicas=1,
                         samples=args.samples, output_dir=str(out))
    started = time.perf_counter()
    run_evaluate(MetaMathConfig(evaluate=cfg))
    return time.perf_counter() - started


def side(name: str, runs: list[list[str]], args, work: Path, counter: RoundCounter) -> dict:
    wall = sum(evaluate(benchmarks, args, work / name / "-".join(benchmarks)) for benchmarks in runs)
    rounds = counter.take()
    return {"wall_s": round(wall, 1), "rounds": len(rounds), "engine_starts": sum(1 for _, sent in rounds if sent),
            "requests": sum(sent for _, sent in rounds)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="vllm", choices=["vllm", "hf"])
    parser.add_argument("--limit", type=int, default=4, help="items per benchmark")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--samples", type=int, default=1, help="> 1: a sampled pass too (maj@k)")
    args = parser.parse_args()
    check_dependencies(args.backend)
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    counter, work = RoundCounter(), Path(tempfile.mkdtemp(prefix="eval-engines-"))
    figures = {"one_run": side("one_run", [BENCHMARKS], args, work, counter),
               "per_benchmark": side("per_benchmark", [[name] for name in BENCHMARKS], args, work, counter)}
    ray.shutdown()
    before, after = figures["per_benchmark"], figures["one_run"]
    print(f"\n{'':<15} {'engine starts':>14} {'requests':>9} {'wall s':>8}", file=sys.stderr)
    for label, f in (("per benchmark", before), ("one run", after)):
        print(f"{label:<15} {f['engine_starts']:>14} {f['requests']:>9} {f['wall_s']:>8.1f}", file=sys.stderr)
    ratio = round(after["wall_s"] / before["wall_s"], 3)
    print(f"one decode per model: {after['engine_starts']} engine start(s) instead of {before['engine_starts']}, "
          f"wall time x{ratio}", file=sys.stderr)
    print(json.dumps({"backend": args.backend, "benchmarks": BENCHMARKS, "limit": args.limit,
                      "samples": args.samples, **figures, "wall_ratio": ratio}))


if __name__ == "__main__":
    main()
