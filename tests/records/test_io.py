import json

import pytest

from metamath.errors import DataError
from metamath.records import MetaMathQARecord, read_records, write_jsonl, write_parquet

RECORDS = [
    MetaMathQARecord("q1", "r1\n#### 1\nThe answer is: 1", "GSM_AnsAug", "q1", "gsm8k/train/a", "m", 0, "k1"),
    MetaMathQARecord("q2\nIf we know...", "r2", "MATH_FOBAR", "o2", "train/x.json", "m", 3, "k2"),
]


@pytest.mark.parametrize("suffix,writer", [(".jsonl", write_jsonl), (".parquet", write_parquet)])
def test_round_trip(tmp_path, suffix, writer):
    path = tmp_path / f"out{suffix}"
    assert writer(RECORDS, path) == 2
    records, bad = read_records(str(path))
    assert records == RECORDS and bad.count == 0


def test_released_four_field_rows_are_read(tmp_path):
    path = tmp_path / "mmqa.jsonl"
    path.write_text(json.dumps({"query": "q", "response": "r", "type": "GSM_SV", "original_question": "o"}) + "\n")
    (record,), _ = read_records(str(path))
    assert record.type == "GSM_SV" and record.sample_index == 0


def test_bad_rows(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"query": "q", "type": "GSM_SV", "original_question": "o"}) + "\n"
                    + json.dumps({"query": "q", "response": "r", "type": "Nope", "original_question": "o"}) + "\n"
                    + json.dumps({"query": "q", "response": "r", "type": "GSM_SV", "original_question": "o"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: missing field\(s\) response"):
        read_records(str(path))
    records, bad = read_records(str(path), on_malformed="skip")
    assert len(records) == 1 and [line for line, _ in bad.skipped] == [1, 2]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="no MetaMathQA rows"):
        read_records(str(empty))
