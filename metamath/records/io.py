"""MetaMathQA JSONL and Parquet, on local paths or any pyarrow filesystem URI."""

from __future__ import annotations

import json
from typing import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from metamath import storage
from metamath.data.sources import MalformedRows, iter_rows
from metamath.errors import DataError
from metamath.records.schema import RECORD_FIELDS, REQUIRED_FIELDS, MetaMathQARecord

ARROW_SCHEMA = pa.schema(
    [(name, pa.int64() if name == "sample_index" else pa.string()) for name in RECORD_FIELDS]
)


def write_jsonl(records: Iterable[MetaMathQARecord], path: str) -> int:
    count = 0
    with storage.open_text_output(str(path)) as handle:
        for record in records:
            handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


def write_parquet(records: Iterable[MetaMathQARecord], path: str) -> int:
    rows = [r.to_dict() for r in records]
    with storage.open_output(str(path)) as out:
        pq.write_table(pa.Table.from_pylist(rows, schema=ARROW_SCHEMA), out)
    return len(rows)


def record_from_row(row: dict, where: str) -> MetaMathQARecord:
    missing = [name for name in REQUIRED_FIELDS if not isinstance(row.get(name), str)]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)}")
    known = {k: row[k] for k in RECORD_FIELDS if row.get(k) is not None}
    try:
        return MetaMathQARecord(**known)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: {exc}") from None


def read_records(path: str, on_malformed: str = "error") -> tuple[list[MetaMathQARecord], MalformedRows]:
    """MetaMathQA rows from JSONL or Parquet (the released HF set's four fields suffice)."""
    bad = MalformedRows(path)
    records = []
    for line, row in iter_rows(path, on_malformed, bad):
        try:
            records.append(record_from_row(row, f"{path}:{line}"))
        except DataError as exc:
            bad.record(line, str(exc).split(": ", 1)[-1], on_malformed)
    if not records:
        raise DataError(f"{path}: no MetaMathQA rows")
    return records, bad
