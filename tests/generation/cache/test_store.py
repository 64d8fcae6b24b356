import json

import pyarrow.parquet as pq

from metamath.generation.requests import TeacherResponse
from metamath.generation.cache.store import MANIFEST, Store, StoreWriter, load_responses


def test_append_and_load(tmp_path):
    writer = StoreWriter(str(tmp_path / "r"))
    writer.append(TeacherResponse("k1", "a", "ok", prompt_tokens=3), "p1")
    writer.append(TeacherResponse("k2", None, "failed", "http_500"), "p2")
    done, failed = load_responses(str(tmp_path / "r"))  # before close: already on disk
    assert set(done) == {"k1"} and done["k1"].prompt_tokens == 3 and failed == 1


def test_torn_last_line_and_later_success(tmp_path):
    root = tmp_path / "r"
    writer = StoreWriter(str(root))
    writer.append(TeacherResponse("k2", None, "failed", "timeout"))
    writer.append(TeacherResponse("k2", "b", "ok"))
    writer.close()
    with open(next(root.glob("*.jsonl")), "a") as handle:
        handle.write('{"key": "k3", "text": "c", "sta')  # a kill -9 mid-line
    done, failed = load_responses(str(root))
    assert set(done) == {"k2"} and failed == 0


def test_remote_style_part_files(tmp_path):
    writer = StoreWriter(str(tmp_path / "r"), remote_flush_rows=2)
    writer._handle.close()
    writer._handle = None  # behave as on a filesystem without append (s3://)
    for i in range(5):
        writer.append(TeacherResponse(f"k{i}", "t", "ok"))
    assert len(load_responses(str(tmp_path / "r"))[0]) == 4  # two parts written, one row buffered
    writer.close()
    assert len(load_responses(str(tmp_path / "r"))[0]) == 5


def test_missing_store_is_empty(tmp_path):
    assert load_responses(str(tmp_path / "none")) == ({}, 0)


def _fill(root, n, start=0):
    writer = StoreWriter(str(root), run="r1")
    for i in range(start, start + n):
        writer.append(TeacherResponse(f"k{i}", f"t{i}", "ok"), f"p{i % 3}")
    writer.append_verdict(f"k{start}", "p0", "check", "correct", None)
    writer.close()


def test_compaction_folds_the_journal_into_a_segment_once(tmp_path):
    root = tmp_path / "r"
    _fill(root, 5)
    store = Store(str(root))
    assert store.compact() == 6 and store.journal_files() == [] and len(store.segment_paths()) == 1
    assert not list(root.glob("*.jsonl")) and store.compact() == 0  # nothing new: no new segment
    _fill(root, 3, start=5)
    assert store.compact() == 4 and len(store.segment_paths()) == 2
    rows = [r for p in store.segment_paths() for r in pq.read_table(p).to_pylist()]
    assert sorted(r["key"] for r in rows if r["kind"] == "response") == [f"k{i}" for i in range(8)]
    assert {r["key"] for r in rows if r["kind"] == "verdict"} == {"k0", "k5"}
    assert len(load_responses(str(root))[0]) == 8


def test_a_crash_after_the_manifest_but_before_the_deletes_counts_each_line_once(tmp_path):
    root = tmp_path / "r"
    _fill(root, 4)
    journal = sorted(p.name for p in root.glob("*.jsonl"))
    store = Store(str(root))
    store._forget_folded = lambda manifest: None  # crash right after the manifest rename
    store.compact()
    assert sorted(p.name for p in root.glob("*.jsonl")) == journal  # the files are still there ...
    assert json.loads((root / MANIFEST).read_text())["folded"] == journal  # ... but listed as folded
    assert Store(str(root)).journal_files() == [] and len(load_responses(str(root))[0]) == 4
    fresh = Store(str(root))
    assert fresh.compact() == 0  # a later compaction finds nothing new; it deletes the leftovers next time
    _fill(root, 1, start=10)
    fresh.compact()
    assert not list(root.glob("*.jsonl")) and len(load_responses(str(root))[0]) == 5


def test_a_crash_before_the_manifest_leaves_the_journal_in_charge(tmp_path):
    root = tmp_path / "r"
    _fill(root, 3)
    store = Store(str(root))
    store._write_manifest = lambda manifest: (_ for _ in ()).throw(OSError("disk gone"))
    try:
        store.compact()
    except OSError:
        pass
    # an orphan segment may exist, but the manifest does not name it: the journal still counts
    assert len(list(root.glob("*.jsonl"))) == 1 and Store(str(root)).segment_paths() == []
    assert len(load_responses(str(root))[0]) == 3
