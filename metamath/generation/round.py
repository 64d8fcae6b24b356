"""One round of teacher requests through Ray Data, streamed from request groups to a folder of
Parquet shards with one row per sample:

    groups --lookup (shuffle with the store by prompt key)--> samples on file ----------------+
                                                         \\--> groups to send --> backend --+--> shards

The backend (openai, hf or vllm) appends every response to the store's journal as it arrives.
No sample passes through the driver: a Tally actor counts samples for the progress bar, and the
accounting is summed from the written shards by a task.
"""

from __future__ import annotations

from typing import Any, Iterator
from dataclasses import dataclass, field

import ray

from metamath import storage
from metamath.config import TeacherConfig
from metamath.generation.accounting import RoundAccount, tally_round
from metamath.generation.backends.dispatch import through_backend
from metamath.generation.cache.ledger import clear_ledger
from metamath.generation.cache.store import Store, compact_in_task
from metamath.generation.rows import expand_fanout, to_schema
from metamath.generation.shutdown import forget
from metamath.ray_data import column_totals, union_all, write_parquet
from metamath.ray_utils import LIGHT_CPUS, on_driver_node


@dataclass
class Round:
    path: str  # folder of Parquet shards (ROW_SCHEMA), empty when nothing was asked
    run: RoundAccount
    rows: int
    stages: dict[str, int] = field(default_factory=dict)  # rows per stage (solve, rephrase, ...)


def lookup(groups, store: Store):
    """One row per asking group, with what is on file and what to send (materialised: both
    branches of the round read it); None when no group asks anything."""
    from metamath.ray_data import hash_shuffle
    from metamath.generation.cache.lookup import resolve_bucket, tag_groups, tag_store

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


def run_round(groups, cfg: TeacherConfig, store_root: str, out_dir: str, label: str, run_tag: str,
              chat: bool = True, batch_dir: str | None = None, submit_only: bool = False) -> Round:
    """Every sample of `groups` (a Dataset of RequestGroup rows) into `out_dir`: from the store
    where it holds one, else from the teacher. Re-running a round sends only what is missing."""
    from metamath.progress import Tally, run_with_progress

    store = Store(store_root)
    compact_in_task(store_root)  # a crashed run's journal becomes readable segments first
    clear_ledger(store_root)
    batches = _batch_driver(cfg, batch_dir, store_root, run_tag, submit_only)
    if batches is not None:
        batches.resume()  # what earlier runs submitted is in the store before the lookup
        compact_in_task(store_root)
    resolved, totals = _resolve(groups, store, cfg, batches)
    if resolved is None:  # nothing asked (e.g. no round-2 work)
        storage.clear_folder(out_dir)
        run = batches.as_run() if batches else RoundAccount()
        if batches:
            batches.close()
        return Round(out_dir, run, 0)
    tally = Tally.options(**on_driver_node()).remote()
    parts = _sample_parts(resolved, totals, cfg, store_root, run_tag, chat, batches, tally)
    storage.clear_folder(out_dir)
    if parts:
        rows = union_all(parts)
        try:
            run_with_progress(lambda: write_parquet(rows, out_dir, ray_remote_args={"num_cpus": LIGHT_CPUS}), tally,
                              totals["n_pending"], f"{label}: {totals['n_cached']} on file")
        except KeyboardInterrupt:
            raise  # the round stays registered: the interrupt handler drains its limiter
        except BaseException:
            forget(store_root)
            raise
        forget(store_root)
    run, count, stages = ray.get(tally_round.remote(out_dir, store_root, run_tag))
    result = RoundAccount(**run)
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

        from metamath.generation.backends.openai_backend import check_endpoint

        asyncio.run(check_endpoint(cfg))  # unreachable, or the key refused: before any request
    if totals["n_pending"] and batches is not None:
        batches.send(pending_samples(resolved))
        compact_in_task(store.root)
        resolved = lookup(groups, store)  # what came back is on file now; the rest was given up on
        totals = column_totals(resolved, columns)
    return resolved, totals


def _sample_parts(resolved, totals: dict[str, int], cfg: TeacherConfig, store_root: str, run_tag: str, chat: bool,
                  batches, tally) -> list:
    """The round's rows as Datasets: the samples on file, and those sent now (counted by `tally`)."""
    from metamath.generation.cache.lookup import cached_samples

    parts = []
    if totals["n_cached"]:
        bought_by = run_tag if batches is not None else None  # collected by this run: not from cache
        parts.append(resolved.flat_map(cached_samples, fn_kwargs={"bought_by": bought_by}, num_cpus=LIGHT_CPUS)
                     .map_batches(to_schema, batch_format="pyarrow", num_cpus=LIGHT_CPUS))
    if totals["n_pending"]:
        todo = pending_groups(resolved)
        sent = (batches.given_up(todo) if batches is not None else
                through_backend(todo, cfg, store_root, run_tag, totals["has_pending"], chat))
        parts.append(sent.flat_map(expand_fanout, num_cpus=LIGHT_CPUS)
                     .map_batches(to_schema, fn_kwargs={"tally": tally, "prices": dict(cfg.price_per_million)},
                                  batch_format="pyarrow", num_cpus=LIGHT_CPUS))
    return parts


def _batch_driver(cfg: TeacherConfig, batch_dir: str | None, store_root: str, run_tag: str, submit_only: bool):
    if cfg.mode != "batch":
        return None
    from metamath.generation.batch.driver import BatchDriver, check_batch_mode

    check_batch_mode(cfg)
    if batch_dir is None:
        raise ValueError("teacher.mode: batch needs the round's batch folder")
    return BatchDriver(cfg, batch_dir, store_root, run_tag, submit_only)


def pending_groups(resolved):
    """The resolved asks with something to send, as group rows for a backend."""
    from ray.data.expressions import col

    from metamath.generation.cache.lookup import pending_group

    return resolved.filter(expr=col("n_pending") > 0, num_cpus=LIGHT_CPUS).map(pending_group, num_cpus=LIGHT_CPUS)


def pending_samples(resolved) -> Iterator[dict[str, Any]]:
    """The samples to send, streamed to the driver (which writes the batch files) block by block."""
    from metamath.generation.backends.vllm_backend import expand_samples

    samples = pending_groups(resolved).flat_map(expand_samples, num_cpus=LIGHT_CPUS)
    for batch in samples.iter_batches(batch_size=4096, batch_format="pyarrow"):
        yield from batch.select(["key", "messages_json", "prompt_key"]).to_pylist()
