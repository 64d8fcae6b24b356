"""The final MetaMathQA in Ray Data: the same rows as the in-memory `assemble()` (its reference),
at any size. Verified rows are marked, never collected:

1. dedup: rows are hash-bucketed by (query, response); in each bucket the first row in stable
   order stays, the others are marked `duplicate`;
2. decontamination: an actor holding the test-set n-gram index (shared with `ray.put`) marks
   the rest that overlap a test question;
3. subsampling: per type the `target` rows of smallest seeded hash rank stay (the cut ranks are
   computed per type, eight numbers), the others are marked;
4. the kept rows, and the original solutions when asked for, are written with Ray Data's
   Parquet writer; one task then sorts each shard and merges them in the stable order into
   metamathqa.parquet and metamathqa.jsonl for users who expect one file.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from collections import Counter, defaultdict
from typing import Any

import pandas as pd
import pyarrow as pa
import ray

from metamath.augment.assemble import original_records, rank_cuts, sub_rank, test_set_index
from metamath.config import AugmentConfig
from metamath.records import RECORD_FIELDS, RECORD_TYPES
from metamath import storage
from metamath.ray_data import small_dataset, write_parquet
from metamath.ray_utils import LIGHT_CPUS
from metamath.ray_data import hash_shuffle
from metamath.records.io import ARROW_SCHEMA
from metamath.ray_data import union_all

ORDER = ["part", "type_rank", "source_id", "query", "sample_index", "request_key"]
KEPT = ""  # the `dropped` mark of a row that stays (an empty string groups and filters more simply than null)
ROWS_PER_BUCKET = 50_000


def buckets_for(rows: int) -> int:
    return max(1, min(256, -(-rows // ROWS_PER_BUCKET)))


def add_keys(batch: pd.DataFrame, seed: int, buckets: int) -> pd.DataFrame:
    """Order, dedup bucket and subsampling rank of each verified-correct row."""
    rank = {t: i for i, t in enumerate(RECORD_TYPES)}
    digests = [hashlib.sha256(f"{q}\x00{r}".encode()).hexdigest() for q, r in zip(batch["query"], batch["response"])]
    out = batch[list(RECORD_FIELDS)].copy()
    out["part"] = 0
    out["type_rank"] = [rank[t] for t in out["type"]]
    out["dup"] = digests
    out["bucket"] = [int(d[:8], 16) % buckets for d in digests]
    out["rank"] = [sub_rank(seed, t, k, q) for t, k, q in zip(out["type"], out["request_key"], out["query"])]
    out["dropped"] = KEPT
    return out


def mark_duplicates(bucket: pd.DataFrame) -> pd.DataFrame:
    """map_groups body over one bucket: of each (query, response) the first in stable order stays."""
    ordered = bucket.sort_values(ORDER[1:], kind="stable")
    first = ~ordered.duplicated("dup", keep="first")
    ordered["dropped"] = [KEPT if keep else "duplicate" for keep in first]
    return ordered


class Decontaminate:
    """Actor: the test-set n-gram index is loaded once (from the object store), then probed."""

    def __init__(self, index_ref: Any) -> None:
        self.index = ray.get(index_ref[0])

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        seen: dict[str, str | None] = {}  # many rows share a query (K samples of one question)
        dropped = list(batch["dropped"])
        for i, query in enumerate(batch["query"]):
            if dropped[i] == KEPT:
                if query not in seen:
                    seen[query] = self.index.hit(query)
                dropped[i] = f"contaminated:{seen[query]}" if seen[query] else KEPT
        batch = batch.copy()
        batch["dropped"] = dropped
        return batch


def kth_rank(rows: pd.DataFrame, targets: dict[str, int]) -> pd.DataFrame:
    """Shuffle body over whole types: per type, the largest rank that stays (-1: no cut)."""
    cuts = rank_cuts({kind: list(group["rank"]) for kind, group in rows.groupby("type")}, targets)
    kinds = sorted(set(rows["type"]))
    return pd.DataFrame({"type": kinds, "cut": [cuts.get(kind, -1) for kind in kinds]})


def mark_subsampled(batch: pd.DataFrame, cuts: dict[str, int]) -> pd.DataFrame:
    batch = batch.copy()
    over = [d == KEPT and t in cuts and r > cuts[t] for d, t, r in zip(batch["dropped"], batch["type"], batch["rank"])]
    batch["dropped"] = [f"subsampled:{t}" if o else d for o, t, d in zip(over, batch["type"], batch["dropped"])]
    return batch


def _originals(problems: list, aug: AugmentConfig):
    rows = [{**r.to_dict(), "part": 1, "type_rank": i} for i, r in enumerate(original_records(problems, aug.dataset))]
    return small_dataset(rows) if rows else None


def mark(correct, aug: AugmentConfig, rows: int, data_root: str | None):
    """Every verified-correct row with `dropped` set to why it goes (KEPT: it stays); materialised."""
    buckets = buckets_for(rows)
    ds = correct.map_batches(add_keys, fn_kwargs={"seed": aug.seed, "buckets": buckets}, batch_format="pandas",
                             num_cpus=LIGHT_CPUS)
    ds = hash_shuffle(ds, "bucket", buckets, mark_duplicates)
    if aug.decontaminate:
        index_ref = [ray.put(test_set_index(aug.decontam_ngram, data_root))]  # in a list: not resolved early
        ds = ds.map_batches(Decontaminate, fn_constructor_args=(index_ref,), batch_format="pandas",
                            compute=ray.data.ActorPoolStrategy(size=1), num_cpus=LIGHT_CPUS)
    ds = ds.materialize()
    if aug.target_counts:
        from ray.data.expressions import col

        kept = ds.filter(expr=col("dropped") == KEPT, num_cpus=LIGHT_CPUS).select_columns(
            ["type", "type_rank", "rank"], num_cpus=LIGHT_CPUS)
        cut_rows = hash_shuffle(kept, "type_rank", len(RECORD_TYPES), kth_rank,
                                {"targets": dict(aug.target_counts)})
        cuts = {r["type"]: int(r["cut"]) for r in (cut_rows.take_all() if cut_rows is not None else [])
                if r["cut"] >= 0}
        if cuts:
            ds = ds.map_batches(mark_subsampled, fn_kwargs={"cuts": cuts}, batch_format="pandas",
                                num_cpus=LIGHT_CPUS).materialize()
    return ds


def drop_tally(marked) -> tuple[dict[str, Counter], Counter, Counter]:
    """(per type: step -> rows dropped, filter report reason -> rows, per type rows kept)."""
    from metamath.ray_data import count_by

    per_type: dict[str, Counter] = defaultdict(Counter)
    report, kept = Counter(), Counter()
    for (kind, reason), count in count_by(marked, ["type", "dropped"]).items():
        if reason == KEPT:
            kept[kind] += count
            continue
        report[reason] += count
        per_type[kind][reason.split(":", 1)[0]] += count
    return per_type, report, kept


def write_final(marked, problems: list, aug: AugmentConfig, shards: str) -> None:
    """The kept rows (`marked` may be None: no teacher row survived) and the originals, with
    their sort keys, as shards in any order (Ray Data's global sort cost 5-6 s of fixed shuffle
    here; `join_shards` orders the rows as it joins them)."""
    from ray.data.expressions import col

    columns = list(RECORD_FIELDS) + ORDER[:2]
    parts = [] if marked is None else [
        marked.filter(expr=col("dropped") == KEPT, num_cpus=LIGHT_CPUS).select_columns(columns, num_cpus=LIGHT_CPUS)]
    originals = _originals(problems, aug) if aug.include_original else None
    if originals is not None:
        parts.append(originals.select_columns(columns, num_cpus=LIGHT_CPUS))
    if parts:
        write_parquet(union_all(parts), shards, ray_remote_args={"num_cpus": LIGHT_CPUS})


def _order_key(row: dict[str, Any]) -> tuple:
    return tuple(row[k] for k in ORDER)


def _sorted_run(path: str, fs, scratch: str) -> str:
    """One shard sorted into a scratch file (a shard is one write task's rows: it fits)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=list(RECORD_FIELDS) + ORDER[:2], filesystem=fs)
    out = f"{scratch}/{path.rsplit('/', 1)[-1]}"
    pq.write_table(table.sort_by([(k, "ascending") for k in ORDER]), out, filesystem=fs)
    return out


def _run_rows(path: str, fs) -> Any:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path, filesystem=fs).iter_batches(batch_size=4096):
        yield from batch.to_pylist()


@ray.remote(num_cpus=LIGHT_CPUS)
def join_shards(shards: str, parquet_path: str, jsonl_path: str) -> int:
    """Every shard sorted on its own, then merged in the stable order into one Parquet file and
    one JSONL file, a few thousand rows at a time."""
    import heapq

    import pyarrow.parquet as pq

    from metamath.ray_data import shard_files

    scratch = f"{shards.rstrip('/')}-sorted"
    storage.clear_folder(scratch)
    fs, files = storage.resolve_many(shard_files(shards))
    scratch_inner = storage.filesystem(scratch)[1]
    runs = [_sorted_run(f, fs, scratch_inner) for f in files if pq.ParquetFile(f, filesystem=fs).metadata.num_rows]
    merged = heapq.merge(*(_run_rows(r, fs) for r in runs), key=_order_key)
    out_fs, parquet_inner = storage.filesystem(parquet_path)
    jsonl_inner = storage.filesystem(jsonl_path)[1]
    rows = 0
    with pq.ParquetWriter(parquet_inner, ARROW_SCHEMA, filesystem=out_fs) as writer, \
            out_fs.open_output_stream(jsonl_inner) as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8")
        while chunk := [{k: row[k] for k in RECORD_FIELDS} for row in itertools.islice(merged, 4096)]:
            writer.write_table(pa.Table.from_pylist(chunk, schema=ARROW_SCHEMA))
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in chunk)
            rows += len(chunk)
        if not rows:
            writer.write_table(pa.Table.from_pylist([], schema=ARROW_SCHEMA))
        out.flush()
    storage.delete(scratch)
    return rows


def assemble_rows(verified, cfg, problems: list, verdicts: list[dict]) -> tuple[dict[str, Counter], Counter, Counter, int]:
    """The verified-correct rows marked and written, joined into metamathqa.{parquet,jsonl}:
    (per type: step -> rows dropped, reason -> rows dropped, per type rows kept, rows written)."""
    from ray.data.expressions import col

    aug, out = cfg.augment, cfg.augment.output_dir
    correct_rows = sum(v["count"] for v in verdicts if v["verdict"] == "correct")
    shards = storage.join(out, "metamathqa")
    storage.clear_folder(shards)
    filter_drops, report, kept = {}, Counter(), Counter()
    if correct_rows and verified is not None:
        marked = mark(verified.filter(expr=col("verdict") == "correct", num_cpus=LIGHT_CPUS), aug, correct_rows,
                      cfg.data.root)
        filter_drops, report, kept = drop_tally(marked)
        write_final(marked, problems, aug, shards)
    else:
        write_final(None, problems, aug, shards)
    rows = ray.get(join_shards.remote(shards, storage.join(out, "metamathqa.parquet"),
                                      storage.join(out, "metamathqa.jsonl")))
    return filter_drops, report, kept, rows
