"""Read rows from a local JSONL or Parquet file, or `hf://owner/name?config=..&split=..`.

Every row comes with its 1-based line (JSONL) or row number (Parquet, Hub) so that a bad
row can be reported precisely. Files on any filesystem URI (s3://, gs://, see storage.py)
work for Parquet and JSONL alike.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

from metamath import storage
from metamath.errors import DataError

HUB = "hf://"  # a Hugging Face Hub dataset (`datasets.load_dataset`), not a filesystem


@dataclass
class MalformedRows:
    """What a tolerant read skipped, so nothing vanishes silently."""

    source: str
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def record(self, line: int, reason: str, policy: str) -> None:
        if policy == "error":
            raise DataError(f"{self.source}:{line}: {reason}")
        self.skipped.append((line, reason))

    @property
    def count(self) -> int:
        return len(self.skipped)


def _open_text(path: str):
    # utf-8-sig: a byte-order mark (Windows editors write one) is dropped, not parsed as text.
    if storage.is_local(path):
        return open(storage.absolute(path), "r", encoding="utf-8-sig")
    fs, inner = storage.filesystem(path)
    return io.TextIOWrapper(fs.open_input_stream(inner), encoding="utf-8-sig")


def is_plain_jsonl(path: str) -> bool:
    """JSON lines with no byte-order mark: what Ray Data's own JSON reader takes as it is."""
    if path.endswith(".parquet") or path.startswith(HUB):
        return False
    with storage.open_input(path) as raw:
        head = raw.read(4096)
    return not head.startswith(b"\xef\xbb\xbf") and not head.lstrip().startswith(b"[")


def _starts_array(handle) -> bool:
    """Whether the file is one JSON array (the Hub's MetaMathQA-395K.json) rather than JSONL."""
    head = handle.read(4096)
    handle.seek(0) if handle.seekable() else None
    return head.lstrip().startswith("[")


def _jsonl_rows(path: str, bad: MalformedRows, policy: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = _open_text(path)
    except (FileNotFoundError, OSError) as exc:
        raise DataError(f"{path}: cannot open ({exc})") from None
    with handle:
        if handle.seekable() and _starts_array(handle):
            yield from _array_rows(path, handle, bad, policy)
            return
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                bad.record(line_no, f"invalid JSON: {exc.msg} (column {exc.colno})", policy)
                continue
            if not isinstance(row, dict):
                bad.record(line_no, f"expected a JSON object, got {type(row).__name__}", policy)
                continue
            yield line_no, row


def _array_items(path: str, handle, chunk: int = 1 << 20) -> Iterator[Any]:
    """The elements of one JSON array, a chunk of text at a time (never the whole file)."""
    decoder, buf = json.JSONDecoder(), handle.read(chunk)
    pos, index = buf.index("[") + 1, 0
    while True:
        while pos < len(buf) and (buf[pos].isspace() or buf[pos] == ","):
            pos += 1
        if pos >= len(buf) or buf[pos] != "]":
            try:
                item, end = decoder.raw_decode(buf, pos) if pos < len(buf) else (None, -1)
            except json.JSONDecodeError as exc:
                item, end, error = None, -1, exc
            else:
                error = None
            if end < 0:  # the element runs past this chunk (or is broken)
                if len(buf) - pos > 64 * chunk:
                    raise DataError(f"{path}: invalid JSON array: element {index + 1} is broken or over 64 MB")
                more = handle.read(chunk)
                if not more:
                    reason = f"{error.msg} (element {index + 1})" if error else "the array is not closed"
                    raise DataError(f"{path}: invalid JSON array: {reason}")
                buf, pos = buf[pos:] + more, 0
                continue
            index += 1
            yield item
            pos = end
            continue
        return


def _array_rows(path: str, handle, bad: MalformedRows, policy: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(element number, row) of a JSON array file; element numbers stand in for lines."""
    for number, item in enumerate(_array_items(path, handle), start=1):
        if not isinstance(item, dict):
            bad.record(number, f"array element {number}: expected a JSON object, got {type(item).__name__}", policy)
            continue
        yield number, item


def _parquet_rows(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        fs, inner = storage.filesystem(path)
        table = pq.read_table(inner, filesystem=fs)
    except (FileNotFoundError, OSError) as exc:
        raise DataError(f"{path}: cannot read Parquet ({exc})") from None
    for idx, row in enumerate(table.to_pylist(), start=1):
        yield idx, row


def _hub_rows(uri: str) -> Iterator[tuple[int, dict[str, Any]]]:
    parsed = urlparse(uri)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    name = f"{parsed.netloc}{parsed.path}".strip("/")
    try:
        import datasets

        ds = datasets.load_dataset(name, query.get("config"), split=query.get("split", "train"))
    except Exception as exc:  # offline, unknown dataset, bad split: all user-facing
        raise DataError(f"{uri}: cannot load from the Hugging Face Hub ({type(exc).__name__}: {exc})") from None
    for idx, row in enumerate(ds, start=1):
        yield idx, dict(row)


def iter_rows(source: str, policy: str = "error", bad: MalformedRows | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line, row) from `source`. `policy` is 'error' or 'skip' for unparsable lines."""
    bad = bad if bad is not None else MalformedRows(source)
    if source.startswith(HUB):
        yield from _hub_rows(source)
    elif source.endswith(".parquet"):
        yield from _parquet_rows(source)
    elif source.endswith((".jsonl", ".json")):
        yield from _jsonl_rows(source, bad, policy)
    else:
        raise DataError(f"{source}: unsupported source (expected .jsonl, .parquet or hf://owner/name)")
