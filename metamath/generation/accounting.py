"""What one round of requests cost and what came of it: a leaf type that online rounds (summed
from their shards by `tally_round`) and batch rounds both produce, merged for a run's stats."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import ray

from metamath.ray_data import iter_shard_batches
from metamath.ray_utils import LIGHT_CPUS


@dataclass
class RoundAccount:
    """The accounting of one round: requests attributed to the first row each produced, so that
    sent = succeeded + retried + failed + lost (lost: sent by a worker that died before the
    answer was stored, counted from the ledger)."""

    from_cache: int = 0  # samples served from the store, not sent
    sent: int = 0  # requests sent (HTTP requests or generate calls), retries included
    succeeded: int = 0  # requests that returned samples
    retried: dict[str, int] = field(default_factory=dict)  # requests retried, by reason
    failed: dict[str, int] = field(default_factory=dict)  # requests given up on, by reason
    reused: int = 0  # samples asked for twice, sent once
    samples_ok: int = 0
    samples_failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # what the samples on file cost when they were bought
    cached_completion_tokens: int = 0
    lost: int = 0  # requests whose answers died with their worker (sent again after its restart)
    lost_prompt_tokens: int = 0  # estimated: the lost requests were paid for, their usage never seen
    lost_completion_tokens: int = 0
    worker_restarts: int = 0  # teacher actors Ray restarted after they died
    over_budget: int = 0  # samples not sent: the run's budget (teacher.max_cost_usd/max_requests) was reached
    batch_sent: int = 0  # of `sent`, the requests that went by Batch API (teacher.mode: batch)
    batch_prompt_tokens: int = 0  # of the tokens, those billed at the batch price
    batch_completion_tokens: int = 0
    first_sent: float = math.inf  # wall-clock span of this round's fresh responses: decoding
    last_received: float = 0.0  # time without start-up (Ray, actors, engines)

    @property
    def window_s(self) -> float:
        return max(0.0, self.last_received - self.first_sent) if self.last_received else 0.0

    def add(self, row: dict[str, Any]) -> None:
        if row.get("cached"):
            self.from_cache += 1
            self.cached_prompt_tokens += int(row.get("prompt_tokens") or 0)
            self.cached_completion_tokens += int(row.get("completion_tokens") or 0)
            return
        if row.get("reused"):
            self.reused += 1
            return
        calls = int(row.get("attempts") or 0)
        retries = row.get("retries") or "{}"
        for reason, count in (json.loads(retries) if isinstance(retries, str) else retries).items():
            self.retried[reason] = self.retried.get(reason, 0) + count
        self.sent += calls
        self.prompt_tokens += int(row.get("prompt_tokens") or 0)
        self.completion_tokens += int(row.get("completion_tokens") or 0)
        received = float(row.get("finished_at") or 0.0)
        if received:
            self.last_received = max(self.last_received, received)
            self.first_sent = min(self.first_sent, received - float(row.get("latency_s") or 0.0))
        if row["status"] == "ok":
            self.samples_ok += 1
            self.succeeded += 1 if calls else 0
        elif row.get("reason") == "budget":
            self.over_budget += 1
        else:
            self.samples_failed += 1
            if calls:
                self.failed[row["reason"]] = self.failed.get(row["reason"], 0) + 1

    def as_cached(self) -> "RoundAccount":
        """This round as a re-run of it reads it: every sample it holds comes from the store, at
        what it cost when it was bought, and nothing is sent."""
        return RoundAccount(from_cache=self.from_cache + self.samples_ok + self.reused,
                            cached_prompt_tokens=self.cached_prompt_tokens + self.prompt_tokens,
                            cached_completion_tokens=self.cached_completion_tokens + self.completion_tokens)

    def merge(self, other: "RoundAccount") -> "RoundAccount":
        for name, value in asdict(other).items():
            mine = getattr(self, name)
            if isinstance(value, dict):
                setattr(self, name, {k: mine.get(k, 0) + value.get(k, 0) for k in mine.keys() | value.keys()})
            elif name == "first_sent":
                self.first_sent = min(mine, value)
            elif name == "last_received":
                self.last_received = max(mine, value)
            else:
                setattr(self, name, mine + value)
        return self



TALLY_COLUMNS = ["cached", "reused", "attempts", "retries", "status", "reason", "prompt_tokens", "completion_tokens",
                 "latency_s", "finished_at"]



@ray.remote(num_cpus=LIGHT_CPUS)
def tally_round(path: str, store_root: str = "", run_tag: str = "") -> tuple[dict[str, Any], int, dict[str, int]]:
    """The round's accounting from its shards; samples from the store are summed by column (a
    re-run is mostly those), the rest row by row. Then the ledger: requests sent that no row
    accounts for were lost with a worker that died."""
    import pyarrow.compute as pc

    from metamath.generation.cache.ledger import read_ledger

    run, count, stages = RoundAccount(), 0, Counter()
    for batch in iter_shard_batches(path, [*TALLY_COLUMNS, "stage"]):
        table = pa.Table.from_batches([batch])
        count += table.num_rows
        stages.update(Counter(table["stage"].to_pylist()))
        cached = pc.fill_null(table["cached"], False)
        on_file = table.filter(cached)
        run.from_cache += on_file.num_rows
        run.cached_prompt_tokens += int(pc.sum(on_file["prompt_tokens"]).as_py() or 0)
        run.cached_completion_tokens += int(pc.sum(on_file["completion_tokens"]).as_py() or 0)
        for row in table.filter(pc.invert(cached)).to_pylist():
            run.add(row)
    if store_root:
        ledger = read_ledger(store_root, run_tag)
        run.lost = max(0, ledger.sent - run.sent)
        run.sent += run.lost
        run.lost_prompt_tokens, run.lost_completion_tokens = ledger.lost_tokens(run.lost)
        run.worker_restarts = ledger.restarts
    return asdict(run), count, dict(stages)


@ray.remote(num_cpus=LIGHT_CPUS)
def tally_by_meta(path: str, fields: list[str]) -> dict[str, dict[str, Any]]:
    """A round's accounting split by the values of `fields` in each row's meta ("gsm8k/greedy"),
    for a round that served several callers at once. Requests lost with a dead worker cannot be
    told apart by caller: they stay in the round's own account (tally_round)."""
    accounts: dict[str, RoundAccount] = {}
    for batch in iter_shard_batches(path, [*TALLY_COLUMNS, "meta"]):
        for row in batch.to_pylist():
            meta = json.loads(row["meta"] or "{}")
            accounts.setdefault("/".join(str(meta.get(f)) for f in fields), RoundAccount()).add(row)
    return {group: asdict(account) for group, account in accounts.items()}
