"""Local paths and pyarrow filesystem URIs (s3://, gs://, hdfs://) for run outputs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def is_uri(path: str) -> bool:
    return "://" in path


def storage_path(output_dir: str) -> str:
    """Ray Train wants an absolute local path or a URI."""
    return output_dir if is_uri(output_dir) else str(Path(output_dir).expanduser().resolve())


def local_mirror(output_dir: str) -> Path:
    """Where rank 0 writes files that are uploaded to a URI output (the folder itself when local)."""
    if not is_uri(output_dir):
        return Path(storage_path(output_dir))
    return Path(tempfile.mkdtemp(prefix="metamath-train-"))


def upload(local: Path, output_dir: str, subpath: str = "") -> None:
    """Copy `local` (a file or folder) to `output_dir/subpath` when the output is a URI."""
    if not is_uri(output_dir):
        return
    import pyarrow.fs as pafs

    dest = output_dir.rstrip("/") + "/" + subpath if subpath else output_dir
    if local.is_file():
        fs, inner = pafs.FileSystem.from_uri(dest)
        pafs.copy_files(str(local), inner, destination_filesystem=fs)
        return
    fs, inner = pafs.FileSystem.from_uri(dest)
    fs.create_dir(inner, recursive=True)
    pafs.copy_files(os.fspath(local), inner, destination_filesystem=fs)
