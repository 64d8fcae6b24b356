"""Progress bars for work that runs inside Ray Data: the workers add their counts to a small
actor, and the driver, while Ray Data runs in a thread, draws the bar from it. No row passes
through the driver."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Callable

import ray

POLL_S = 0.5


@ray.remote(num_cpus=0)
class Tally:
    def __init__(self) -> None:
        self.counts: Counter = Counter()

    def add(self, counts: dict[str, int]) -> None:
        self.counts.update(counts)

    def get(self) -> dict[str, int]:
        return dict(self.counts)


def report(tally: Any, **counts: int) -> None:
    """From a worker: fire and forget (the bar may lag; accounting never comes from here)."""
    if tally is not None and any(counts.values()):
        tally.add.remote(counts)


def run_with_progress(work: Callable[[], Any], tally: Any, total: int, label: str, unit: str = "sample") -> Any:
    """Run `work` (a Ray Data execution) in a thread, drawing `tally`'s 'done'/'failed' counts."""
    from tqdm.auto import tqdm

    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name=f"metamath-{label}")
    bar = tqdm(total=total, desc=label, unit=unit, dynamic_ncols=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(POLL_S)
            _draw(bar, tally)
        _draw(bar, tally)
    finally:
        bar.close()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def _draw(bar: Any, tally: Any) -> None:
    counts = ray.get(tally.get.remote())
    bar.update(counts.get("done", 0) - bar.n)
    postfix = {}
    if counts.get("failed"):
        postfix["failed"] = counts["failed"]
    if counts.get("not_sent"):  # the run's budget was reached
        postfix["not sent (budget)"] = counts["not_sent"]
    if counts.get("spent_micro_usd"):  # an API teacher with prices: the spend so far
        postfix["spent"] = f"${counts['spent_micro_usd'] / 1e6:.4f}"
    if postfix:
        bar.set_postfix(postfix, refresh=False)
