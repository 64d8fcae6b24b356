"""What a round has submitted by batch, journaled under `<output_dir>/batches/<round>/state.jsonl`.

Each step is appended (and synced) as soon as it happened, before the next one starts: a file
written, uploaded (its file id), its batch created (the batch id), collected. A run that crashed
or was interrupted reads the journal back and picks every file up where it stopped: a batch id
on record is polled, never created again (and a file uploaded without a batch on record is
first looked up among the endpoint's batches by its file id).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from metamath import storage
from metamath.generation.batch.files import InputFile

STATE = "state.jsonl"


@dataclass
class FileState:
    name: str
    path: str
    endpoint: str
    requests: int
    generation: int
    file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None  # the batch's last known status
    collected: bool = False


class BatchJournal:
    """A local journal is appended to and synced line by line; one on an object store (no
    append there) is rewritten whole at every step: a round has a few dozen lines at most."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        storage.makedirs(folder)
        self.path = storage.join(folder, STATE)
        self.files: dict[str, FileState] = {}
        self.lines: list[str] = list(storage.text_lines(self.path)) if storage.exists(self.path) else []
        self._replay()

    def _replay(self) -> None:
        for line in self.lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:  # a torn last line: the step it names did not finish
                continue
            kind, name = event.pop("event"), event.get("name")
            if kind == "file":
                self.files[name] = FileState(**event)
            elif name in self.files:
                for field, value in event.items():
                    setattr(self.files[name], field, value)

    def _append(self, event: dict[str, Any]) -> None:
        line = json.dumps(event) + "\n"
        self.lines.append(line)
        if storage.is_uri(self.path):
            storage.write_text(self.path, "".join(self.lines))
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def add_file(self, file: InputFile) -> FileState:
        state = FileState(file.name, file.path, file.endpoint, file.requests, file.generation)
        self._append({"event": "file", **asdict(state)})
        self.files[file.name] = state
        return state

    def update(self, state: FileState, **fields: Any) -> None:
        self._append({"event": "update", "name": state.name, **fields})
        for field, value in fields.items():
            setattr(state, field, value)

    def open_files(self) -> list[FileState]:
        """Files whose results are not yet in the store, in the order they were written."""
        return [f for f in self.files.values() if not f.collected]

    def generation(self) -> int:
        return max((f.generation for f in self.files.values()), default=-1)
