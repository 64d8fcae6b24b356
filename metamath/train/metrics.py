"""Per-step metrics from rank 0: `metrics.jsonl`, TensorBoard events, a progress line.

On resume the file is cut back to the checkpoint's step, so every optimizer step appears
exactly once however many times the run restarted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Iterator, TypeVar

T = TypeVar("T")

FIELDS = ("step", "loss", "lr", "grad_norm", "tokens_per_s", "data_s", "epoch")


class Stopwatch:
    """Time spent waiting on an iterator: a step's `data_s` (the input pipeline's share of
    `step_s`, as torchtitan's data-loading time)."""

    def __init__(self) -> None:
        self.total = 0.0

    def over(self, items: Iterator[T]) -> Iterator[T]:
        items = iter(items)
        while True:
            started = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                self.total += time.perf_counter() - started
            yield item


class MetricsLog:
    def __init__(self, folder: Path, total_steps: int, resume_step: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "metrics.jsonl"
        self.total = total_steps
        self._truncate(resume_step)
        from tensorboardX import SummaryWriter

        self.board = SummaryWriter(str(folder / "tensorboard"), purge_step=resume_step + 1)
        self.started = time.time()
        self.first_step = resume_step

    def _truncate(self, keep_through: int) -> None:
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= keep_through]
        self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, row: dict[str, Any]) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(row) + "\n")
        for key in FIELDS[1:]:
            if row.get(key) is not None:
                self.board.add_scalar(f"train/{key}", row[key], row["step"])
        self.board.flush()
        # Ray Train patches print() into its logger and echoes it: write to stdout once.
        sys.stdout.write(self._progress(row) + "\n")
        sys.stdout.flush()

    def _progress(self, row: dict[str, Any]) -> str:
        done = row["step"] - self.first_step
        elapsed = time.time() - self.started
        eta = elapsed / max(done, 1) * (self.total - row["step"])
        norm = "-" if row.get("grad_norm") is None else f"{row['grad_norm']:.3f}"
        return (f"[train] step {row['step']}/{self.total} epoch {row['epoch']:.2f} loss {row['loss']:.4f} "
                f"lr {row['lr']:.3g} grad_norm {norm} {row['tokens_per_s']:.0f} tok/s eta {eta:.0f}s")

    def close(self) -> None:
        self.board.close()


def read_metrics(folder: str) -> list[dict[str, Any]]:
    """A run's metrics.jsonl, from its output folder (local or a URI)."""
    from metamath import storage

    path = storage.join(str(folder), "metrics.jsonl")
    if not storage.exists(path):
        return []
    return [json.loads(line) for line in storage.text_lines(path) if line.strip()]
