"""A progress bar over a round's batches: completed / failed / total requests, as the provider
counts them in each batch object."""

from __future__ import annotations

from typing import Any


class BatchProgress:
    def __init__(self, total: int) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc="batches", unit="request", dynamic_ncols=True)
        self.counts: dict[str, tuple[int, int]] = {}  # file -> (completed, failed)

    def update(self, name: str, request_counts: Any) -> None:
        completed = int(getattr(request_counts, "completed", 0) or 0)
        failed = int(getattr(request_counts, "failed", 0) or 0)
        self.counts[name] = (completed, failed)
        done = sum(c + f for c, f in self.counts.values())
        self.bar.set_postfix(failed=sum(f for _, f in self.counts.values()), refresh=False)
        self.bar.update(done - self.bar.n)

    def __enter__(self) -> "BatchProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close()
