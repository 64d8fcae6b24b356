"""How often the augment driver goes back to Ray Data: executions and collections.

    python benchmarks/augment_executions.py [--config configs/local.yaml]

Runs `run_augment` in this process on the config's augment section (all four methods on its
questions) against the SCRIPTED OpenAI-compatible server on 127.0.0.1 (a stand-in teacher:
75% of answers right, distinct texts), on a fresh output folder, then once more on the same
folder (every step finished), and once more without work/steps.json (the store alone: every
round looked up, nothing sent). Counted while each runs:
- executions: Ray Data streaming executions started (StreamingExecutor.execute), each a round
  trip of the driver;
- collections: calls that bring rows or counts to the driver (take_all, take, take_batch, count,
  to_pandas, iter_rows, iter_batches; outermost calls only).
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

COLLECTING = ("take_all", "take", "take_batch", "count", "to_pandas", "iter_rows", "iter_batches")


def check_dependencies() -> None:
    for name in ("ray", "aiohttp", "pyarrow"):
        try:
            __import__(name)
        except ImportError:
            raise SystemExit(f"benchmarks/augment_executions.py needs {name}: make install")


class Counters:
    """Patches Ray Data's executor and the collecting Dataset methods to count calls."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.depth = 0

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def counted(*args, **kwargs):
            if self.depth == 0 or label == "executions":
                self.calls[label] += 1
                if label != "executions":
                    self.calls[f"collections.{name}"] += 1
            self.depth += label != "executions"
            try:
                return original(*args, **kwargs)
            finally:
                self.depth -= label != "executions"

        setattr(owner, name, counted)

    def install(self) -> None:
        from ray.data import Dataset
        from ray.data._internal.execution.streaming_executor import StreamingExecutor

        self.wrap(StreamingExecutor, "execute", "executions")
        for name in COLLECTING:
            self.wrap(Dataset, name, "collections")

    def take(self) -> dict[str, int]:
        figures, self.calls = dict(self.calls), Counter()
        return figures


def config_for(path: str, out: Path, url: str):
    from metamath.config import load_config

    cfg = load_config(path, [f"augment.output_dir={out}", "teacher.backend=openai", f"teacher.base_url={url}",
                             "teacher.model=scripted", "teacher.api_key_env=null", "teacher.replicas=1"])
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="configs/local.yaml")
    args = parser.parse_args()
    check_dependencies()
    import ray

    from metamath.augment.job import run_augment
    from metamath.data import load_benchmark
    from metamath.testing.scripted_server import Script, ServerProcess

    counters = Counters()
    counters.install()
    out = Path(tempfile.mkdtemp(prefix="augment-exec-")) / "out"
    problems = load_benchmark("gsm8k", "train").problems
    script = Script(answers={p.question: p.gold for p in problems},
                    solutions={p.question: p.solution.rsplit("####", 1)[0].strip() for p in problems},
                    pass_rates={p.question: 0.75 for p in problems})
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    figures = {}
    with ServerProcess(script) as server:
        cfg = config_for(args.config, out, server.base_url)
        for run in ("fresh", "rerun", "from_store"):
            if run == "from_store" and (out / "work" / "steps.json").exists():
                (out / "work" / "steps.json").unlink()
            started = time.perf_counter()
            stats = run_augment(cfg)
            figures[run] = {**counters.take(), "wall_s": round(time.perf_counter() - started, 1),
                            "rows": stats["rows"], "sent": stats["requests"]["sent"]}
    ray.shutdown()
    print(f"\n{'run':<10} {'Ray Data executions':>20} {'driver collections':>19} {'wall s':>7} {'requests sent':>14}",
          file=sys.stderr)
    for run, f in figures.items():
        print(f"{run:<10} {f.get('executions', 0):>20} {f.get('collections', 0):>19} {f['wall_s']:>7.1f} {f['sent']:>14}",
              file=sys.stderr)
    print(json.dumps({"config": args.config, **figures}))


if __name__ == "__main__":
    main()
