"""Shared fixtures. Benchmark data comes from METAMATH_DATA_DIR (CI: ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metamath.data.paths import resolve_data_root


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = resolve_data_root()
    if root is None:
        pytest.skip("no local benchmark data (set METAMATH_DATA_DIR)")
    return root


@pytest.fixture(autouse=True, scope="session")
def _quiet_math_verify():
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    yield


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path
