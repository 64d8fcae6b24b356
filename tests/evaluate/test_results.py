"""The order of scored rows: sorted by the reader when small, read as ranges when Ray Data sorted them."""

import pyarrow as pa
import pyarrow.parquet as pq

from metamath.evaluate import results


def _shard(path, pairs):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"index": [i for i, _ in pairs], "sample_index": [s for _, s in pairs],
                             "completion": [f"{i}.{s}" for i, s in pairs]}), path)


def test_small_unsorted_shards_come_back_by_item_and_sample(tmp_path):
    _shard(tmp_path / "b.parquet", [(3, 1), (0, 1), (2, 0)])
    _shard(tmp_path / "a.parquet", [(1, 0), (3, 0), (0, 0)])
    _shard(tmp_path / "empty.parquet", [])
    rows = list(results.sorted_rows(str(tmp_path)))
    assert [(r["index"], r["sample_index"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (2, 0), (3, 0), (3, 1)]


def test_large_shards_are_read_as_ranges_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "SORT_IN_ONE_TASK_ROWS", 2)  # as if written after Ray Data's sort
    _shard(tmp_path / "a.parquet", [(2, 0), (3, 0)])
    _shard(tmp_path / "b.parquet", [(0, 0), (1, 0)])
    assert [r["index"] for r in results.sorted_rows(str(tmp_path))] == [0, 1, 2, 3]


def test_no_shards_no_rows(tmp_path):
    assert list(results.sorted_rows(str(tmp_path / "missing"))) == []
