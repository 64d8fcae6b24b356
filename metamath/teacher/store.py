"""Responses stored as they arrive, under `<output_dir>/responses/`, on any pyarrow filesystem.

Each writer (one per worker process) appends JSON lines to its own file; local files are
flushed after every response, so `kill -9` loses nothing that came back. Remote stores
(s3://, gs://) have no append: they get a new part file every `remote_flush_rows` responses.
Loading tolerates a torn last line. Only successful responses count as done; a failed
sample is retried by the next run (it was never paid for a usable answer).
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Iterator

import pyarrow.fs as pafs

from metamath.teacher.requests import TeacherResponse


def _filesystem(root: str) -> tuple[pafs.FileSystem, str, bool]:
    if "://" in root:
        fs, path = pafs.FileSystem.from_uri(root)
        return fs, path, isinstance(fs, pafs.LocalFileSystem)
    return pafs.LocalFileSystem(), os.path.abspath(root), True


class StoreWriter:
    def __init__(self, root: str, remote_flush_rows: int = 64) -> None:
        self.fs, self.path, self.local = _filesystem(root)
        self.fs.create_dir(self.path, recursive=True)
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.remote_flush_rows = remote_flush_rows
        self._buffer: list[str] = []
        self._part = 0
        self._handle = open(f"{self.path}/{self.name}.jsonl", "a", encoding="utf-8") if self.local else None

    def append(self, response: TeacherResponse) -> None:
        line = json.dumps(response.to_row(), ensure_ascii=False) + "\n"
        if self._handle is not None:
            self._handle.write(line)
            self._handle.flush()
            return
        self._buffer.append(line)
        if len(self._buffer) >= self.remote_flush_rows:
            self.flush()

    def flush(self) -> None:
        if self._handle is not None or not self._buffer:
            return
        with self.fs.open_output_stream(f"{self.path}/{self.name}-{self._part:05d}.jsonl") as out:
            out.write("".join(self._buffer).encode())
        self._buffer.clear()
        self._part += 1

    def close(self) -> None:
        self.flush()
        if self._handle is not None:
            self._handle.close()
            self._handle = None


_PROCESS_WRITERS: dict[str, StoreWriter] = {}


def process_writer(root: str) -> StoreWriter:
    """One writer per store and worker process, for steps that Ray Data runs as tasks (a
    function is unpickled anew for every task; its writer must outlive them)."""
    if root not in _PROCESS_WRITERS:
        _PROCESS_WRITERS[root] = StoreWriter(root)
    return _PROCESS_WRITERS[root]


def _lines(fs: pafs.FileSystem, path: str) -> Iterator[str]:
    with fs.open_input_stream(path) as stream:
        yield from stream.read().decode("utf-8", errors="replace").splitlines()


def load_responses(root: str) -> tuple[dict[str, TeacherResponse], int]:
    """(key -> successful response, number of failed samples on record)."""
    fs, path, _ = _filesystem(root)
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        return {}, 0
    done: dict[str, TeacherResponse] = {}
    failed_keys: set[str] = set()
    for info in fs.get_file_info(pafs.FileSelector(path, recursive=False)):
        if not info.base_name.endswith(".jsonl"):
            continue
        for line in _lines(fs, info.path):
            try:
                response = TeacherResponse.from_row(json.loads(line))
            except (json.JSONDecodeError, TypeError, KeyError):
                continue  # a line torn by a kill
            if response.status == "ok":
                done[response.key] = response
            else:
                failed_keys.add(response.key)
    return done, len(failed_keys - done.keys())
