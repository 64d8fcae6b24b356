"""Which checkpoint a run resumes from: the newest complete one.

Every rank saves its DeepSpeed shard into a folder of its own and Ray Train copies the folders
into one `checkpoint_step_N/`. A run killed during that copy leaves a folder with some files
missing or cut short. So each rank also writes `manifest_rank<r>.json`, last, listing the files
it wrote and their sizes; `trainer_state.json` names the world size. A checkpoint is complete
when every rank's manifest is there and every file it lists has its size. On a start, the
checkpoint folders are scanned newest first; incomplete ones are skipped, each with a message.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

RUN_NAME = "ray_train"  # Ray Train's run folder under output_dir: the checkpoints live there
MANIFEST = "manifest_rank{rank}.json"
STATE = "trainer_state.json"
FOLDER = re.compile(r"^checkpoint_step_(\d+)$")


def write_manifest(folder: str, rank: int) -> None:
    """After this rank's files are written: their relative paths and sizes."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            files[os.path.relpath(path, folder)] = os.path.getsize(path)
    Path(folder, MANIFEST.format(rank=rank)).write_text(json.dumps({"files": files}))


def missing_part(fs: Any, path: str) -> str | None:
    """None when the checkpoint at `path` is complete, else what is missing."""
    state = _read_json(fs, f"{path}/{STATE}")
    if state is None:
        return STATE
    if "world_size" not in state:  # written before manifests existed: taken as it is
        return None
    for rank in range(int(state["world_size"])):
        manifest = _read_json(fs, f"{path}/{MANIFEST.format(rank=rank)}")
        if manifest is None:
            return MANIFEST.format(rank=rank)
        for name, size in manifest["files"].items():
            info = fs.get_file_info(f"{path}/{name}")
            if info.type.name == "NotFound" or info.size != size:
                return f"{name} ({'absent' if info.type.name == 'NotFound' else f'{info.size} of {size} bytes'})"
    return None


def _read_json(fs: Any, path: str) -> dict | None:
    try:
        with fs.open_input_stream(path) as stream:
            return json.loads(stream.read().decode())
    except (FileNotFoundError, OSError, ValueError):
        return None


def resume_point(run_dir: str) -> tuple[str | None, int, list[str]]:
    """(the newest complete checkpoint under `run_dir` or None, its step, messages about the
    incomplete ones skipped)."""
    from metamath import storage

    fs = storage.filesystem(run_dir)[0]
    folders = [(int(m.group(1)), folder) for folder in storage.list_dirs(run_dir)
               if (m := FOLDER.match(storage.name(folder)))]
    skipped = []
    for step, folder in sorted(folders, reverse=True):
        path = storage.filesystem(folder)[1]
        missing = missing_part(fs, path)
        if missing is None:
            return folder, step, skipped
        skipped.append(f"skipped the incomplete checkpoint {path.rsplit('/', 1)[-1]} (missing {missing}): "
                       "it was being written when the run stopped")
    return None, 0, skipped
