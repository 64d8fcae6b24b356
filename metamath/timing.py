"""Wall time per stage of a job: logged as each stage ends and kept for stats.json, so a slow run
shows where its time went."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator


class StageClock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - started
            self.seconds[name] = round(self.seconds.get(name, 0.0) + took, 2)
            print(f"[metamath] {name}: {took:.1f} s", file=sys.stderr, flush=True)
