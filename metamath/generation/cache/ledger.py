"""The request ledger: every HTTP request a worker sends is written down before it goes out.

A worker that dies (a preempted node, an OOM kill) takes the answers to its requests in flight
with it; Ray restarts the actor and runs its batch again, so those requests are paid twice. The
round's rows cannot count them (they never came back); the ledger can. Each worker process
appends to its own file under `<store>/ledger/<round>/`: a `start` line naming its actor every
time it starts (a restart shows as a second start of the same actor), and a `sent` line with the
request's estimated tokens before each request. The round's tally sets the lines sent against the
requests its rows account for: the difference was lost with a worker.

Local files are flushed per line, so a `kill -9` loses no line. On object stores (s3://), where
nothing can be appended, each `sent` line is uploaded (in a part with whatever else is waiting)
before its request goes out, and a `start` line at once: a lost node loses no line either.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Awaitable

LEDGER = "ledger"


def ledger_root(store_root: str, run: str) -> str:
    return f"{store_root.rstrip('/')}/{LEDGER}/{run.replace(':', '-') or 'run'}"


class Ledger:
    """One worker process's side of the ledger."""

    def __init__(self, store_root: str, run: str) -> None:
        from metamath.generation.cache.store import StoreWriter

        self.writer = StoreWriter(ledger_root(store_root, run), run)
        self.actor = ""
        self.owner = ""  # "<actor id>/<this process>": whom the limiter's permits are held by

    def started(self) -> bool:
        """Record this worker's start; True when Ray restarted it after it died."""
        import ray

        context = ray.get_runtime_context()
        self.actor = (context.get_actor_id() if ray.is_initialized() else None) or self.writer.name
        self.owner = f"{self.actor}/{self.writer.name}"
        restarted = bool(context.get_actor_id()) and bool(context.was_current_actor_reconstructed)
        self.writer.write({"event": "start", "actor": self.actor, "restarted": restarted})
        self.writer.flush()  # rare, and the restart count rests on it: on an object store at once
        return restarted

    def sent(self, prompt_tokens: int, completion_tokens: int) -> Awaitable[None] | None:
        """Before a request goes out: estimated prompt tokens and the most it may generate. On an
        object store the line must be uploaded before the request leaves (a node lost a moment
        later takes no unwritten line with it): the caller awaits what this returns."""
        import asyncio

        future = self.writer.write_durably({"event": "sent", "p": prompt_tokens, "c": completion_tokens})
        return None if future is None else asyncio.wrap_future(future)


@dataclass
class LedgerTotals:
    sent: int = 0
    prompt_tokens: int = 0  # estimates over every request sent
    completion_tokens: int = 0
    starts: Counter = field(default_factory=Counter)  # actor -> times started

    @property
    def restarts(self) -> int:
        return sum(n - 1 for n in self.starts.values())

    def lost_tokens(self, lost: int) -> tuple[int, int]:
        """Estimated (prompt, completion) tokens of `lost` requests: the mean of what was sent."""
        if not self.sent or lost <= 0:
            return 0, 0
        return round(self.prompt_tokens * lost / self.sent), round(self.completion_tokens * lost / self.sent)


def read_ledger(store_root: str, run: str) -> LedgerTotals:
    """The round's totals, read line by line (a torn last line is skipped)."""
    from metamath import storage

    totals = LedgerTotals()
    for path in storage.list_files(ledger_root(store_root, run), ".jsonl", recursive=False):
        for line in storage.text_lines(path):
            _count(totals, line)
    return totals


def _count(totals: LedgerTotals, line: str) -> None:
    try:
        entry: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError:
        return
    if entry.get("event") == "sent":
        totals.sent += 1
        totals.prompt_tokens += int(entry.get("p") or 0)
        totals.completion_tokens += int(entry.get("c") or 0)
    elif entry.get("event") == "start":
        totals.starts[str(entry.get("actor"))] += 1


def clear_ledger(store_root: str) -> None:
    """Ledgers of earlier rounds: their counts are in their stats already."""
    from metamath import storage

    storage.delete(f"{store_root.rstrip('/')}/{LEDGER}")
