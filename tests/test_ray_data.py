"""Ray Data plumbing: the task-based hash shuffle (every row of a bucket reaches exactly one reduce
call), and reading shard folders small and large alike."""

import pandas as pd
import pyarrow as pa

from metamath.ray_data import hash_shuffle


def _summarise(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby("bucket", as_index=False).agg(rows=("value", "size"), total=("value", "sum"))


def test_each_bucket_is_reduced_whole_in_one_call(ray_local):
    import ray

    rows = [{"bucket": i % 7, "value": i} for i in range(500)]
    ds = ray.data.from_items(rows, override_num_blocks=5)  # every bucket spread over every block
    out = hash_shuffle(ds, "bucket", 3, _summarise).take_all()
    assert sorted((r["bucket"], r["rows"], r["total"]) for r in out) == sorted(
        (b, sum(1 for i in range(500) if i % 7 == b), sum(i for i in range(500) if i % 7 == b)) for b in range(7))


def test_arrow_batches_and_an_empty_input(ray_local):
    import ray

    seen = hash_shuffle(ray.data.from_items([{"bucket": 1, "v": "a"}, {"bucket": 1, "v": "b"}]), "bucket", 2,
                        lambda t: pa.table({"kind": [type(t).__name__], "n": [t.num_rows]}), batch_format="pyarrow").take_all()
    assert seen == [{"kind": "Table", "n": 2}]
    empty = ray.data.from_items([{"bucket": 1}]).filter(lambda r: False)
    assert hash_shuffle(empty, "bucket", 2, _summarise) is None


def test_small_and_large_shard_folders_read_the_same_rows(ray_local, tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from metamath import ray_data

    (tmp_path / "part").mkdir()
    # a shard whose column is all null (typed null) beside one with strings: read_parquet unifies them
    pq.write_table(pa.table({"key": ["a", "b"], "text": pa.nulls(2)}), tmp_path / "0.parquet")
    pq.write_table(pa.table({"key": [f"k{i}" for i in range(2500)], "text": ["x"] * 2500}), tmp_path / "part" / "1.parquet")
    small = ray_data.read_shards(str(tmp_path))
    assert small.num_blocks() == 3  # 2,502 rows in blocks of 1,024
    monkeypatch.setattr(ray_data, "SMALL_PARQUET_BYTES", 0)
    large = ray_data.read_shards(str(tmp_path), columns=["key"])
    assert sorted(r["key"] for r in small.take_all()) == sorted(r["key"] for r in large.take_all())
    assert sum(r["text"] == "x" for r in small.take_all()) == 2500
    assert ray_data.read_shards(str(tmp_path / "missing")) is None
