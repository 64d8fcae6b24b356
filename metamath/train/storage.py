"""Where a training run writes: `train.output_dir` is a local folder or a URI (metamath/storage.py).
Rank 0 writes metrics, TensorBoard events and the export into a local mirror of it, uploaded to a
URI output with every checkpoint; a run resumed on another node takes the log up from there."""

from __future__ import annotations

import tempfile
from pathlib import Path

from metamath import storage


def storage_path(output_dir: str) -> str:
    """Ray Train wants an absolute local path or a URI."""
    return storage.absolute(output_dir)


def local_mirror(output_dir: str) -> Path:
    """Where rank 0 writes files that are uploaded to a URI output (the folder itself when local).
    A resumed run starts from the metrics already uploaded, so its log keeps the earlier steps."""
    if storage.is_local(output_dir):
        return Path(storage_path(output_dir))
    mirror = Path(tempfile.mkdtemp(prefix="metamath-train-"))
    metrics = storage.join(output_dir, "metrics.jsonl")
    if storage.exists(metrics):
        storage.download(metrics, str(mirror / "metrics.jsonl"))
    return mirror


def upload(local: Path, output_dir: str, subpath: str = "") -> None:
    """Copy `local` (a file or folder) to `output_dir/subpath` when the output is a URI."""
    if storage.is_uri(output_dir):
        storage.upload(str(local), storage.join(output_dir, subpath) if subpath else output_dir)
