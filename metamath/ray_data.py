"""Ray Data plumbing with no domain knowledge: building, reading and writing datasets of
Parquet shards, exact re-batching, unions, and totals and counts taken by one map over the blocks
(no shuffle, nothing that grows with the data held by the driver but the counts themselves)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Callable, Iterator

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.compute as pc
import ray

from metamath import storage
from metamath.ray_utils import LIGHT_CPUS


def rebatch(ds, rows: int, strict: bool = False):
    """`ds.repartition(target_num_rows_per_block=rows)` whose tasks ask LIGHT_CPUS instead of a
    whole CPU. Dataset.repartition has no resource arguments, and a whole CPU is what nodes with
    fractional CPUs left (1-CPU nodes each hosting a 0.5-CPU teacher actor) never have: the
    round waited forever without a word. Built as Dataset.repartition builds it."""
    try:
        from ray.data._internal.logical.interfaces import LogicalPlan
        from ray.data._internal.logical.operators.map_operator import StreamingRepartition
        from ray.data.dataset import Dataset

        op = StreamingRepartition(target_num_rows_per_block=rows, input_dependencies=[ds._logical_plan.dag],
                                  strict=strict, ray_remote_args={"num_cpus": LIGHT_CPUS})
    except (ImportError, TypeError):  # another Ray's internals: its own repartition
        return ds.repartition(target_num_rows_per_block=rows, strict=strict)
    return Dataset._from_parent(ds, LogicalPlan(op, ds.context))


def small_dataset(items: list, rows_per_block: int = 1000):
    """A dataset of a few thousand items made in the driver (questions, benchmark items): in a
    few blocks, since Ray Data's default of one task per few items cost 5 s for 200 here."""
    import ray

    return ray.data.from_items(items, override_num_blocks=max(1, min(64, -(-len(items) // rows_per_block))))


# Parquet files up to this size are read by the driver into blocks of SMALL_READ_BLOCK_ROWS rows:
# Ray Data's read_parquet spends 2-8 s here on its metadata and sizing tasks even for a few rows,
# and a small job reads a dozen such folders. Larger ones stream through read_parquet. The bound
# is what the driver may hold at once: at 32 MB (compressed text, several times that in memory)
# a 224K-sample augment read its store and rounds here and its peak grew 2.4x over 7.5K samples.
SMALL_PARQUET_BYTES = 2 << 20
SMALL_READ_BLOCK_ROWS = 1024


def read_parquet_files(fs, paths: list[str], columns: list[str] | None = None, schema=None, **read_args):
    """Parquet files (paths inside `fs`) as a Dataset: up to SMALL_PARQUET_BYTES read here
    (schemas unified as read_parquet does, or cast to `schema`), larger ones through read_parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray

    if sum(info.size or 0 for info in fs.get_file_info(paths)) > SMALL_PARQUET_BYTES:
        return ray.data.read_parquet(paths, filesystem=fs, columns=columns, schema=schema, **read_args)
    tables = [pq.read_table(path, columns=columns, filesystem=fs, schema=schema) for path in paths]
    table = pa.concat_tables(tables, promote_options="permissive")
    blocks = [table.slice(start, SMALL_READ_BLOCK_ROWS) for start in range(0, table.num_rows, SMALL_READ_BLOCK_ROWS)]
    return ray.data.from_arrow(blocks or [table])


def write_parquet(ds, path: str, **write_args) -> None:
    """`ds` as Parquet shards under `path`, a local folder or any filesystem URI."""
    from metamath import storage

    inner, fs = storage.for_ray(path)
    ds.write_parquet(inner, filesystem=fs, **write_args)



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


# A hash shuffle of a Ray Dataset with plain Ray tasks: every row with the same bucket value
# reaches one reduce call.
#
# Ray Data's groupby does this with aggregator actors, which on a small machine cost seconds per
# shuffle before any data moves (11 s for a 3,300-row cache lookup on 2 cores, 0.1 s once warm).
# Tasks run in the workers Ray already has. The driver holds object refs only: map outputs live
# in the object store (spilled to disk when large), one small table per (block, partition).


def _split(table: pa.Table, column: str, partitions: int) -> list[pa.Table]:
    part = pc.remainder(table[column], partitions) if table.num_rows else pa.array([], pa.int64())
    out = [table.filter(pc.equal(part, p)) for p in range(partitions)]
    return out if partitions > 1 else out[0]


def _reduce(fn: Callable[..., Any], fn_kwargs: dict[str, Any], batch_format: str,
            *tables: pa.Table) -> tuple[pa.Table, int]:
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return pa.table({}), 0
    batch = pa.concat_tables(tables, promote_options="permissive")
    result = fn(batch.to_pandas() if batch_format == "pandas" else batch, **fn_kwargs)
    table = result if isinstance(result, pa.Table) else pa.Table.from_pandas(result, preserve_index=False)
    return table, table.num_rows


def hash_shuffle(ds, column: str, partitions: int, fn: Callable[..., Any],
                 fn_kwargs: dict[str, Any] | None = None, batch_format: str = "pandas"):
    """`fn(batch, **fn_kwargs)` once per partition, over every row whose `column` (an integer
    bucket) falls in it, as a pandas frame or a pyarrow table (`batch_format`); returns the
    results (frames or tables) as a materialised Dataset (None when empty)."""
    split = ray.remote(_split).options(num_cpus=LIGHT_CPUS, num_returns=partitions)
    reduce = ray.remote(_reduce).options(num_cpus=LIGHT_CPUS, num_returns=2)
    pieces = [split.remote(block, column, partitions) for block in ds.to_arrow_refs()]
    pieces = [p if isinstance(p, list) else [p] for p in pieces]
    results = [reduce.remote(fn, fn_kwargs or {}, batch_format, *[row[p] for row in pieces]) for p in range(partitions)]
    sizes = ray.get([size for _, size in results])
    kept = [table for (table, _), size in zip(results, sizes) if size]
    return ray.data.from_arrow_refs(kept) if kept else None
