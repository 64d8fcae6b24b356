from metamath.teacher.requests import TeacherResponse
from metamath.teacher.store import StoreWriter, load_responses


def test_append_and_load(tmp_path):
    writer = StoreWriter(str(tmp_path / "r"))
    writer.append(TeacherResponse("k1", "a", "ok", prompt_tokens=3))
    writer.append(TeacherResponse("k2", None, "failed", "http_500"))
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
