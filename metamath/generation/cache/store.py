"""The response store under `<output_dir>/responses/`, on any pyarrow filesystem: an append-only
journal, compacted into Parquet segments.

Journal: each writer (one per worker process) appends JSON lines to its own `*.jsonl` file;
local files are flushed after every line, so `kill -9` loses nothing that came back. Remote
stores (s3://, gs://) have no append: they get a new part file every `remote_flush_rows` lines.
A line is a response (a TeacherResponse row with its prompt key) or a verdict (`kind: verdict`,
the check of a solve against its gold). Reading skips a torn last line.

Compaction folds the journal files into one Parquet segment, then records, in one atomic
rewrite of MANIFEST.json, the new segment and the journal files it holds; those files are
deleted afterwards. A crash at any point leaves every line readable exactly once: before the
manifest names the segment the journal files count, after it the segment does and the listed
journal files are skipped until they are gone. The store is read as a Ray Dataset of segments.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from concurrent.futures import Future
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.fs as pafs

from metamath import storage
from metamath.generation.requests import TeacherResponse

MANIFEST = "MANIFEST.json"
SEGMENTS = "segments"
STORE_SCHEMA = pa.schema([
    ("prompt_key", pa.string()), ("key", pa.string()), ("kind", pa.string()), ("status", pa.string()),
    ("reason", pa.string()), ("text", pa.string()), ("finish_reason", pa.string()),
    ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()), ("check", pa.string()),
    ("verdict", pa.string()), ("run", pa.string()),
])


def filesystem_for(root: str) -> tuple[pafs.FileSystem, str, bool]:
    """pyarrow's filesystem for a local path or URI, the path inside it, and whether it is local."""
    fs, path = storage.filesystem(root)
    return fs, path, isinstance(fs, pafs.LocalFileSystem)


class StoreWriter:
    """One process's journal file(s). On an object store lines are buffered and written as a new
    part when `remote_flush_rows` lines are waiting or the oldest has waited `remote_flush_s`
    (checked at each write), and whenever the caller flushes: workers flush at the end of every
    batch, so every row they hand on is on the store first."""

    def __init__(self, root: str, run: str = "", remote_flush_rows: int = 64, remote_flush_s: float = 1.0) -> None:
        self.fs, self.path, self.local = filesystem_for(root)
        self.fs.create_dir(self.path, recursive=True)
        self.run = run
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.remote_flush_rows, self.remote_flush_s = remote_flush_rows, remote_flush_s
        self._buffer: list[str] = []
        self._oldest = 0.0
        self._part = 0
        self._handle = open(f"{self.path}/{self.name}.jsonl", "a", encoding="utf-8") if self.local else None
        self._lock = threading.Lock()  # parts are numbered by the caller's thread and the uploader's
        self._durable: list[tuple[str, Future]] = []
        self._wake = threading.Event()
        self._uploader: threading.Thread | None = None

    def append(self, response: TeacherResponse, prompt_key: str = "") -> None:
        self.write({**response.to_row(), "prompt_key": prompt_key, "run": self.run})

    def append_verdict(self, key: str, prompt_key: str, check: str, verdict: str, reason: str | None) -> None:
        self.write({"kind": "verdict", "key": key, "prompt_key": prompt_key, "check": check, "verdict": verdict,
                    "reason": reason, "run": self.run})

    def write(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False) + "\n"
        if self._handle is not None:
            self._handle.write(line)
            self._handle.flush()
            return
        if not self._buffer:
            self._oldest = time.monotonic()
        self._buffer.append(line)
        if len(self._buffer) >= self.remote_flush_rows or time.monotonic() - self._oldest >= self.remote_flush_s:
            self.flush()

    def write_durably(self, row: dict[str, Any]) -> Future | None:
        """`row` on the store before the returned future is done (None: it already is, a local
        file). On an object store a background thread uploads the lines waiting as one part at a
        time: a line costs one upload's latency, and the caller's event loop never blocks on it."""
        if self._handle is not None:
            self.write(row)
            return None
        future: Future = Future()
        with self._lock:
            self._durable.append((json.dumps(row, ensure_ascii=False) + "\n", future))
            if self._uploader is None:
                self._uploader = threading.Thread(target=self._upload_durable, daemon=True, name="store-uploader")
                self._uploader.start()
        self._wake.set()
        return future

    def _upload_durable(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                self._wake.clear()
                waiting, self._durable = self._durable, []
            if waiting:
                self._write_part("".join(line for line, _ in waiting))
                for _, future in waiting:
                    future.set_result(None)

    def _write_part(self, text: str) -> None:
        with self._lock:
            part, self._part = self._part, self._part + 1
        with self.fs.open_output_stream(f"{self.path}/{self.name}-{part:05d}.jsonl") as out:
            out.write(text.encode())

    def flush(self) -> None:
        if self._handle is not None or not self._buffer:
            return
        self._write_part("".join(self._buffer))
        self._buffer.clear()

    def close(self) -> None:
        self.flush()
        if self._handle is not None:
            self._handle.close()
            self._handle = None


_PROCESS_WRITERS: dict[tuple[str, str], StoreWriter] = {}


def process_writer(root: str, run: str = "") -> StoreWriter:
    """One writer per store and worker process, for steps that Ray Data runs as tasks (a
    function is unpickled anew for every task; its writer must outlive them)."""
    if (root, run) not in _PROCESS_WRITERS:
        _PROCESS_WRITERS[(root, run)] = StoreWriter(root, run)
    return _PROCESS_WRITERS[(root, run)]


def text_lines(fs: pafs.FileSystem, path: str) -> Iterator[str]:
    """Line by line: a journal file is never read into memory whole."""
    import io

    with fs.open_input_stream(path) as stream:
        for line in io.TextIOWrapper(stream, encoding="utf-8", errors="replace"):
            yield line


def store_row(raw: dict[str, Any]) -> dict[str, Any] | None:
    """A journal line as a row of STORE_SCHEMA, or None for a line that is no store row."""
    if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
        return None
    row = {name: raw.get(name) for name in STORE_SCHEMA.names}
    row["kind"] = raw.get("kind") or "response"
    row["prompt_key"] = raw.get("prompt_key") or ""
    for name in ("prompt_tokens", "completion_tokens"):
        row[name] = int(raw.get(name) or 0)
    if row["kind"] == "response" and raw.get("status") not in ("ok", "failed"):
        return None
    return row


def journal_rows(fs: pafs.FileSystem, path: str) -> Iterator[dict[str, Any]]:
    for line in text_lines(fs, path):
        try:
            row = store_row(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line torn by a kill
        if row is not None:
            yield row


def journaled_responses(root: str, run: str) -> dict[str, TeacherResponse]:
    """The successful responses this run's workers journaled (not yet compacted), as they were
    returned, attempts and retries included: what a restarted worker hands back instead of
    sending its dead predecessor's batch again."""
    store, found = Store(root), {}
    for path in store.journal_files():
        for line in text_lines(store.fs, path):
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(raw, dict) and raw.get("run") == run and raw.get("status") == "ok" and "kind" not in raw:
                found[raw["key"]] = TeacherResponse.from_row(raw)
    return found


class Store:
    """The layout of one store: manifest, segments, journal files."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.fs, self.path, self.local = filesystem_for(root)

    def manifest(self) -> dict[str, list[str]]:
        info = self.fs.get_file_info(f"{self.path}/{MANIFEST}")
        if info.type == pafs.FileType.NotFound:
            return {"segments": [], "folded": []}
        with self.fs.open_input_stream(info.path) as stream:
            return json.loads(stream.read().decode())

    def journal_files(self) -> list[str]:
        """Journal files the manifest does not already hold."""
        if self.fs.get_file_info(self.path).type == pafs.FileType.NotFound:
            return []
        folded = set(self.manifest()["folded"])
        infos = self.fs.get_file_info(pafs.FileSelector(self.path, recursive=False))
        return sorted(i.path for i in infos if i.base_name.endswith(".jsonl") and i.base_name not in folded)

    def segment_paths(self) -> list[str]:
        return [f"{self.path}/{SEGMENTS}/{name}" for name in self.manifest()["segments"]]

    def _write_manifest(self, manifest: dict[str, list[str]]) -> None:
        tmp = f"{self.path}/.{MANIFEST}.{uuid.uuid4().hex[:8]}"
        with self.fs.open_output_stream(tmp) as out:
            out.write(json.dumps(manifest, indent=1).encode())
        self.fs.move(tmp, f"{self.path}/{MANIFEST}")  # a rename: readers see the old or the new one

    def compact(self, batch_rows: int = 20000) -> int:
        """Fold every journal file into one new segment; returns the rows folded."""
        import pyarrow.parquet as pq

        files = self.journal_files()
        if not files:
            return 0
        self.fs.create_dir(f"{self.path}/{SEGMENTS}", recursive=True)
        name = f"seg-{uuid.uuid4().hex[:12]}.parquet"
        rows, batch = 0, []
        with pq.ParquetWriter(f"{self.path}/{SEGMENTS}/{name}", STORE_SCHEMA, filesystem=self.fs) as writer:
            for path in files:
                for row in journal_rows(self.fs, path):
                    batch.append(row)
                    if len(batch) >= batch_rows:
                        writer.write_table(pa.Table.from_pylist(batch, schema=STORE_SCHEMA))
                        rows, batch = rows + len(batch), []
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema=STORE_SCHEMA))
                rows += len(batch)
        manifest = self.manifest()
        manifest["segments"].append(name)
        manifest["folded"] = sorted(set(manifest["folded"]) | {p.rsplit("/", 1)[-1] for p in files})
        self._write_manifest(manifest)
        self._forget_folded(manifest)
        return rows

    def _forget_folded(self, manifest: dict[str, list[str]]) -> None:
        """Delete journal files the manifest holds; then stop listing them."""
        for base in manifest["folded"]:
            try:
                self.fs.delete_file(f"{self.path}/{base}")
            except (FileNotFoundError, OSError):
                pass
        self._write_manifest({**manifest, "folded": []})

    def dataset(self):
        """The compacted store as a Ray Dataset (None when empty). Compact first. A small store
        is read by the driver (read_parquet's fixed cost: see ray_utils.read_parquet_files)."""
        from metamath.ray_data import read_parquet_files

        paths = self.segment_paths()
        return read_parquet_files(self.fs, paths, schema=STORE_SCHEMA) if paths else None

    def rows(self) -> int:
        """Rows in the segments (from their footers: nothing is read)."""
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(p, filesystem=self.fs).metadata.num_rows for p in self.segment_paths())

    def responses_on_file(self, run_prefix: str = "") -> tuple[int, int]:
        """(successful responses stored by runs whose tag starts with `run_prefix`, all of them)."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        mine = total = 0
        for path in self.segment_paths():
            table = pq.read_table(path, columns=["kind", "status", "run"], filesystem=self.fs)
            ok = table.filter(pc.and_(pc.equal(table["kind"], "response"), pc.equal(table["status"], "ok")))
            total += ok.num_rows
            mine += int(pc.sum(pc.starts_with(pc.fill_null(ok["run"], ""), run_prefix)).as_py() or 0) if run_prefix else 0
        for path in self.journal_files():
            for row in journal_rows(self.fs, path):
                if row["kind"] == "response" and row["status"] == "ok":
                    total += 1
                    mine += bool(run_prefix) and (row["run"] or "").startswith(run_prefix)
        return mine, total

    def _ok_responses(self, columns: list[str]) -> Iterator[pa.Table]:
        """Tables of this store's successful responses (segments, then journal), `columns` only."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        wanted = sorted({"kind", "status", *columns})
        for path in self.segment_paths():
            table = pq.read_table(path, columns=wanted, filesystem=self.fs)
            yield table.filter(pc.and_(pc.equal(table["kind"], "response"), pc.equal(table["status"], "ok"))).select(columns)
        for path in self.journal_files():
            rows = [r for r in journal_rows(self.fs, path) if r["kind"] == "response" and r["status"] == "ok"]
            yield pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows],
                                       schema=pa.schema([STORE_SCHEMA.field(c) for c in columns]))

    def ok_keys(self) -> set[str]:
        """Keys of every successful response on file (a plan's "already bought"), read here."""
        return {key for table in self._ok_responses(["key"]) for key in table["key"].to_pylist()}

    def texts_for(self, keys: set[str]) -> dict[str, str]:
        """The stored text of each of `keys` that has a successful response."""
        import pyarrow.compute as pc

        wanted, out = pa.array(sorted(keys), pa.string()), {}
        for table in self._ok_responses(["key", "text"]):
            hits = table.filter(pc.is_in(table["key"], value_set=wanted))
            out.update(zip(hits["key"].to_pylist(), hits["text"].to_pylist()))
        return out

    def is_empty(self) -> bool:
        return not self.segment_paths() and not self.journal_files()


def compact_in_task(root: str) -> int:
    """`Store(root).compact()` in a Ray task on the driver's node (which sees the same local
    folders), not in the driver: a compaction streams every journal line since the last one, and
    the driver's memory must not grow with the data. It asks for no CPU, as the driver did not: a
    head started with `num_cpus: 0` runs it. Returns the rows folded."""
    import ray

    from metamath.ray_utils import on_driver_node

    def compact(path: str) -> int:
        return Store(path).compact()

    task = ray.remote(compact).options(num_cpus=0, **on_driver_node())
    return ray.get(task.remote(root))


def load_responses(root: str) -> tuple[dict[str, TeacherResponse], int]:
    """(key -> successful response, failed samples on record), read in this process: for tests
    and small tools. Jobs read the store as a dataset."""
    import pyarrow.parquet as pq

    store = Store(root)
    done: dict[str, TeacherResponse] = {}
    failed: set[str] = set()

    def take(row: dict[str, Any]) -> None:
        if row["kind"] != "response":
            return
        if row["status"] == "ok":
            done[row["key"]] = TeacherResponse.from_row(row)
        else:
            failed.add(row["key"])

    for path in store.segment_paths():
        for row in pq.read_table(path, filesystem=store.fs).to_pylist():
            take(row)
    for path in store.journal_files():
        for row in journal_rows(store.fs, path):
            take(row)
    return done, len(failed - done.keys())
