"""Reading rows: JSONL, the Hub's single-array JSON files, byte-order marks, precise errors."""

import json

import pytest

from metamath.data import sources
from metamath.data.sources import is_plain_jsonl, iter_rows
from metamath.errors import DataError

ROWS = [{"query": f"q{i} [x], {{y}}", "response": f'r"]{i}'} for i in range(300)]


def test_a_json_array_is_read_element_by_element_across_chunk_boundaries(tmp_path, monkeypatch):
    path = tmp_path / "MetaMathQA-395K.json"
    path.write_text(json.dumps(ROWS, indent=1))
    chunks = []
    real = sources._array_items

    def small_chunks(p, handle, chunk=1 << 20):
        for item in real(p, handle, chunk=61):  # many elements straddle a chunk boundary
            chunks.append(1)
            yield item

    monkeypatch.setattr(sources, "_array_items", small_chunks)
    assert [row for _, row in iter_rows(str(path))] == ROWS and len(chunks) == len(ROWS)
    assert not is_plain_jsonl(str(path))


def test_a_byte_order_mark_is_dropped(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(json.dumps(r) for r in ROWS[:3]).encode())
    assert [row for _, row in iter_rows(str(path))] == ROWS[:3]
    assert not is_plain_jsonl(str(path))


def test_broken_arrays_and_lines_name_the_place(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"query": "a", "response": "b"}, {"query": "c", "response": }]')
    with pytest.raises(DataError, match=r"broken.json: invalid JSON array: Expecting value \(element 2\)"):
        list(iter_rows(str(path)))
    lines = tmp_path / "torn.jsonl"
    lines.write_text('{"query": "a"}\n{"query": "unterminated')
    with pytest.raises(DataError, match=r"torn.jsonl:2: invalid JSON: Unterminated string starting at \(column 11\)"):
        list(iter_rows(str(lines)))
