"""One round of teacher requests through Ray Data, streamed from request groups to a folder of
Parquet shards with one row per sample:

    groups --lookup (shuffle with the store by prompt key)--> samples on file ----------------+
                                                         \\--> groups to send --> backend --+--> shards

The backend (openai, hf or vllm) appends every response to the store's journal as it arrives.
No sample passes through the driver: a Tally actor counts samples for the progress bar, and the
accounting is summed from the written shards by a task.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import ray

from metamath import storage
from metamath.config import TeacherConfig
from metamath.teacher.ledger import clear_ledger
from metamath.teacher.store import Store
from metamath.ray_utils import LIGHT_CPUS, on_driver_node, read_parquet_files, rebatch, write_parquet

CALLS_PER_ACTOR = 4  # batches an `openai` actor works on at once (they share its event loop)

ROW_SCHEMA = pa.schema([
    ("key", pa.string()), ("prompt_key", pa.string()), ("sample_index", pa.int64()), ("meta", pa.string()),
    ("stage", pa.string()), ("method", pa.string()), ("text", pa.string()), ("status", pa.string()),
    ("reason", pa.string()), ("finish_reason", pa.string()), ("prompt_tokens", pa.int64()),
    ("completion_tokens", pa.int64()), ("attempts", pa.int64()), ("retries", pa.string()), ("cached", pa.bool_()),
    ("reused", pa.bool_()), ("latency_s", pa.float64()), ("finished_at", pa.float64()), ("verdicts", pa.string()),
])
_DEFAULTS = {"attempts": 0, "retries": "{}", "cached": False, "reused": False, "latency_s": 0.0,
             "finished_at": 0.0, "verdicts": "{}", "prompt_tokens": 0, "completion_tokens": 0}


@dataclass
class TeacherRun:
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

    def merge(self, other: "TeacherRun") -> "TeacherRun":
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


@dataclass
class Round:
    path: str  # folder of Parquet shards (ROW_SCHEMA), empty when nothing was asked
    run: TeacherRun
    rows: int
    stages: dict[str, int] = field(default_factory=dict)  # rows per stage (solve, rephrase, ...)


def _limiter(cfg: TeacherConfig, store_root: str, run_tag: str):
    """The round's job-wide limiter, registered so that an interrupt can drain it."""
    from metamath.teacher.limiter import RateLimiter
    from metamath.teacher.shutdown import register

    from metamath.teacher.budget import Budget

    limiter = RateLimiter.options(**on_driver_node()).remote(cfg.max_concurrency, cfg.requests_per_minute,
                                                              cfg.tokens_per_minute, Budget.of(cfg))
    register(limiter, cfg.shutdown_grace_s, store_root, run_tag)
    return limiter


def _through_backend(ds, cfg: TeacherConfig, store_root: str, run_tag: str, n_groups: int, chat: bool):
    """Group rows -> one row per sample, each response stored as it arrives."""
    from metamath.models import model_reference
    from metamath.teacher import workers

    if cfg.backend != "openai":  # after the keys were made: each worker resolves it on its node
        cfg = cfg.model_copy(update={"model": model_reference(cfg.model)})
    if cfg.backend == "openai":
        # Each actor runs CALLS_PER_ACTOR batches at once on its one event loop, each about its
        # share of the job-wide concurrency: while one batch waits on its slowest request, the
        # others keep the permits busy (one batch at a time sagged to 0.62 of ideal; now ~0.95).
        # Blocks of one batch each: an actor works through the batches of one block in sequence.
        batch = max(1, min(n_groups, math.ceil(cfg.max_concurrency / cfg.replicas)))
        ds = rebatch(ds, batch)
        pool = ray.data.ActorPoolStrategy(size=cfg.replicas, max_concurrent_calls_per_actor=CALLS_PER_ACTOR,
                                          enable_true_multi_threading=True)
        return ds.map_batches(workers.OpenAIWorker, batch_size=batch, batch_format="pandas",
                              fn_constructor_kwargs={"cfg": cfg.model_dump(), "limiter": _limiter(cfg, store_root, run_tag),
                                                     "store_root": store_root, "run": run_tag},
                              compute=pool, num_cpus=0.5)
    if cfg.backend == "hf":
        # Blocks of exactly one generate batch (but the last): the lookup's hash buckets come in
        # uneven sizes, and a loose repartition cut 20 rows into 10 + 7 + 3, three generate calls
        # for the time of two (0.72 of a plain loop's tokens/s; exact blocks: see the README).
        ds = rebatch(ds, cfg.batch_size, strict=True)
        return ds.map_batches(workers.HFWorker, batch_size=cfg.batch_size, batch_format="pandas",
                              fn_constructor_kwargs={"cfg": cfg.model_dump(), "store_root": store_root, "run": run_tag},
                              compute=ray.data.ActorPoolStrategy(size=cfg.replicas), num_cpus=1,
                              num_gpus=1 if cfg.use_gpu else 0)
    from metamath.teacher.vllm_backend import build_vllm_processor, expand_samples

    run = build_vllm_processor(cfg, cfg.model, store_root, run_tag, chat=chat)
    # (No repartition here: its task asks for a whole CPU, which an engine and the chat-template
    # actor leave no room for on 2 cores: the round stalled for good.)
    return run(ds.flat_map(expand_samples, num_cpus=LIGHT_CPUS))


def expand_fanout(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A fresh sample, then a copy for every other group that asked for the same key."""
    fanout = json.loads(row.get("fanout") or "{}")
    yield row
    for meta in fanout.get(row["key"], []):
        yield {**row, "meta": meta, "reused": True, "attempts": 0, "retries": "{}", "prompt_tokens": 0,
               "completion_tokens": 0}


def to_schema(batch: pa.Table, tally: Any = None, prices: dict[str, float] | None = None) -> pa.Table:
    """Any row kind -> ROW_SCHEMA (stage and method read from the meta); counts fresh samples
    and, with `prices`, what they cost (in micro-dollars: the tally keeps integers)."""
    from metamath.progress import report
    from metamath.teacher.budget import cost_usd

    out = []
    for row in batch.to_pylist():
        given = {k: _plain(v) for k, v in row.items() if k in ROW_SCHEMA.names}
        full = {**_DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
        if not full.get("stage"):
            meta = json.loads(row.get("meta") or "{}")
            full.update(stage=meta.get("stage"), method=meta.get("method"))
        out.append({name: full.get(name) for name in ROW_SCHEMA.names})
    fresh = [r for r in out if not r["cached"] and not r["reused"]]
    spent = cost_usd(prices or {}, sum(r["prompt_tokens"] or 0 for r in fresh), sum(r["completion_tokens"] or 0 for r in fresh))
    unsent = sum(r["reason"] == "budget" for r in fresh)
    report(tally, done=len(fresh), failed=sum(r["status"] != "ok" for r in fresh) - unsent, not_sent=unsent,
           spent_micro_usd=round(spent * 1e6))
    return pa.Table.from_pylist(out, schema=ROW_SCHEMA)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def lookup(groups, store: Store):
    """One row per asking group, with what is on file and what to send (materialised: both
    branches of the round read it); None when no group asks anything."""
    from metamath.shuffle import hash_shuffle
    from metamath.teacher.lookup import resolve_bucket, tag_groups, tag_store

    partitions = shuffle_partitions(store.rows())
    kwargs = {"num_cpus": LIGHT_CPUS, "fn_kwargs": {"buckets": partitions}}
    tagged = groups.map_batches(tag_groups, batch_format="pandas", **kwargs)
    stored = store.dataset()
    if stored is not None:
        tagged = tagged.union(stored.map_batches(tag_store, batch_format="pyarrow", **kwargs))
    return hash_shuffle(tagged, "bucket", partitions, resolve_bucket, batch_format="pyarrow")


def shuffle_partitions(rows: int, rows_per_partition: int = 200_000) -> int:
    """Reduce tasks of about 200K stored rows each (a bucket's rows are held by one task); at
    least two, so that a small machine's two cores share the work."""
    return max(2, min(256, -(-rows // rows_per_partition)))


def union_all(parts: list):
    """One dataset of several (Ray Data's union needs at least one other)."""
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def column_totals(ds, columns: list[str]) -> dict[str, int]:
    """Sums of a few numeric columns and the row count, by one map over the blocks (Ray Data's
    own aggregations shuffle first: 4-5 s here even for a few rows)."""
    def sums(batch: pa.Table) -> pa.Table:
        return pa.table({"rows": [batch.num_rows], **{c: [int(pa.compute.sum(batch[c]).as_py() or 0)] for c in columns}})

    totals = {"rows": 0, **{c: 0 for c in columns}}
    for row in ds.select_columns(columns, num_cpus=LIGHT_CPUS).map_batches(sums, batch_format="pyarrow", batch_size=None,
                                                      num_cpus=LIGHT_CPUS).take_all():
        for name in totals:
            totals[name] += int(row[name])
    return totals


def clear_folder(path: str) -> None:
    storage.clear_folder(path)


def run_round(groups, cfg: TeacherConfig, store_root: str, out_dir: str, label: str, run_tag: str,
              chat: bool = True, batch_dir: str | None = None, submit_only: bool = False) -> Round:
    """Every sample of `groups` (a Dataset of RequestGroup rows) into `out_dir`: from the store
    where it holds one, else from the teacher. Re-running a round sends only what is missing."""
    from metamath.progress import Tally, run_with_progress

    store = Store(store_root)
    store.compact()  # a crashed run's journal becomes readable segments first
    clear_ledger(store_root)
    batches = _batch_driver(cfg, batch_dir, store_root, run_tag, submit_only)
    if batches is not None:
        batches.resume()  # what earlier runs submitted is in the store before the lookup
        store.compact()
    resolved, totals = _resolve(groups, store, cfg, batches)
    if resolved is None:  # nothing asked (e.g. no round-2 work)
        clear_folder(out_dir)
        run = batches.as_run() if batches else TeacherRun()
        if batches:
            batches.close()
        return Round(out_dir, run, 0)
    tally = Tally.options(**on_driver_node()).remote()
    parts = _sample_parts(resolved, totals, cfg, store_root, run_tag, chat, batches, tally)
    clear_folder(out_dir)
    if parts:
        rows = union_all(parts)
        run_with_progress(lambda: write_parquet(rows, out_dir, ray_remote_args={"num_cpus": LIGHT_CPUS}), tally,
                          totals["n_pending"], f"{label}: {totals['n_cached']} on file")
    run, count, stages = ray.get(tally_round.remote(out_dir, store_root, run_tag))
    result = TeacherRun(**run)
    if batches is not None:
        result.merge(batches.as_run())
        batches.close()
    return Round(out_dir, result, count, stages)


def _resolve(groups, store: Store, cfg: TeacherConfig, batches) -> tuple[Any, dict[str, int]]:
    """`groups` looked up in the store: (resolved groups, their pending/cached totals), after a
    batch submission of what was missing; (None, {}) when nothing was asked."""
    columns = ["n_pending", "n_cached", "has_pending"]
    resolved = lookup(groups, store) if groups is not None else None
    if resolved is None:
        return None, {}
    totals = column_totals(resolved, columns)
    if totals["n_pending"] and cfg.backend == "openai":
        import asyncio

        from metamath.teacher.openai_backend import check_endpoint

        asyncio.run(check_endpoint(cfg))  # unreachable, or the key refused: before any request
    if totals["n_pending"] and batches is not None:
        batches.send(pending_samples(resolved))
        store.compact()
        resolved = lookup(groups, store)  # what came back is on file now; the rest was given up on
        totals = column_totals(resolved, columns)
    return resolved, totals


def _sample_parts(resolved, totals: dict[str, int], cfg: TeacherConfig, store_root: str, run_tag: str, chat: bool,
                  batches, tally) -> list:
    """The round's rows as Datasets: the samples on file, and those sent now (counted by `tally`)."""
    from metamath.teacher.lookup import cached_samples

    parts = []
    if totals["n_cached"]:
        bought_by = run_tag if batches is not None else None  # collected by this run: not from cache
        parts.append(resolved.flat_map(cached_samples, fn_kwargs={"bought_by": bought_by}, num_cpus=LIGHT_CPUS)
                     .map_batches(to_schema, batch_format="pyarrow", num_cpus=LIGHT_CPUS))
    if totals["n_pending"]:
        todo = pending_groups(resolved)
        sent = (batches.given_up(todo) if batches is not None else
                _through_backend(todo, cfg, store_root, run_tag, totals["has_pending"], chat))
        parts.append(sent.flat_map(expand_fanout, num_cpus=LIGHT_CPUS)
                     .map_batches(to_schema, fn_kwargs={"tally": tally, "prices": dict(cfg.price_per_million)},
                                  batch_format="pyarrow", num_cpus=LIGHT_CPUS))
    return parts


def _batch_driver(cfg: TeacherConfig, batch_dir: str | None, store_root: str, run_tag: str, submit_only: bool):
    if cfg.mode != "batch":
        return None
    from metamath.teacher.batch_mode import BatchDriver, check_batch_mode

    check_batch_mode(cfg)
    if batch_dir is None:
        raise ValueError("teacher.mode: batch needs the round's batch folder")
    return BatchDriver(cfg, batch_dir, store_root, run_tag, submit_only)


def pending_groups(resolved):
    """The resolved asks with something to send, as group rows for a backend."""
    from ray.data.expressions import col

    from metamath.teacher.lookup import pending_group

    return resolved.filter(expr=col("n_pending") > 0, num_cpus=LIGHT_CPUS).map(pending_group, num_cpus=LIGHT_CPUS)


def pending_samples(resolved) -> Iterator[dict[str, Any]]:
    """The samples to send, streamed to the driver (which writes the batch files) block by block."""
    from metamath.teacher.vllm_backend import expand_samples

    samples = pending_groups(resolved).flat_map(expand_samples, num_cpus=LIGHT_CPUS)
    for batch in samples.iter_batches(batch_size=4096, batch_format="pyarrow"):
        yield from batch.select(["key", "messages_json", "prompt_key"]).to_pylist()


TALLY_COLUMNS = ["cached", "reused", "attempts", "retries", "status", "reason", "prompt_tokens", "completion_tokens",
                 "latency_s", "finished_at"]


def shard_files(path: str) -> list[str]:
    """A stage's Parquet shards, in the form of `path` (a URI stays one)."""
    return storage.list_files(path, ".parquet")


def read_shards(path: str, columns: list[str] | None = None):
    """The shards of a round (or any stage) as a Dataset; None when it wrote nothing."""
    fs, files = storage.resolve_many(shard_files(path))
    if not files:
        return None
    return read_parquet_files(fs, files, columns, ray_remote_args={"num_cpus": LIGHT_CPUS})


def count_by(ds, columns: list[str]) -> Counter:
    """(values of `columns`) -> rows, by one map over the blocks and no shuffle (a groupby-count
    took 5-10 s here, the map a fraction of a second)."""
    def count(batch: pa.Table) -> pa.Table:
        counts = Counter(zip(*(batch[c].to_pylist() for c in columns)))
        return pa.table({"counts": [json.dumps([[list(k), n] for k, n in counts.items()])]})

    total: Counter = Counter()
    if ds is None:
        return total
    for row in ds.select_columns(columns, num_cpus=LIGHT_CPUS).map_batches(count, batch_format="pyarrow", batch_size=None,
                                                      num_cpus=LIGHT_CPUS).take_all():
        for key, n in json.loads(row["counts"]):
            total[tuple(key)] += n
    return total


def iter_shard_batches(path: str, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """One record batch at a time (for tasks that tally a stage's output)."""
    import pyarrow.dataset as pads

    fs, files = storage.resolve_many(shard_files(path))
    if not files:
        return
    yield from pads.dataset(files, format="parquet", filesystem=fs).to_batches(columns=columns)


def iter_shard_rows(path: str, columns: list[str]) -> Iterator[dict[str, Any]]:
    for batch in iter_shard_batches(path, columns):
        yield from batch.to_pylist()


@ray.remote(num_cpus=LIGHT_CPUS)
def tally_round(path: str, store_root: str = "", run_tag: str = "") -> tuple[dict[str, Any], int, dict[str, int]]:
    """The round's accounting from its shards; samples from the store are summed by column (a
    re-run is mostly those), the rest row by row. Then the ledger: requests sent that no row
    accounts for were lost with a worker that died."""
    import pyarrow.compute as pc

    from metamath.teacher.ledger import read_ledger

    run, count, stages = TeacherRun(), 0, Counter()
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
