"""Where data comes from: explicit path > data root (METAMATH_DATA_DIR, ../shared/data) > the Hub."""

from __future__ import annotations

import os
from pathlib import Path

from metamath.errors import DataError

# Relative to a data root laid out like ../shared/data.
LOCAL_FILES = {
    ("gsm8k", "train"): "gsm8k/train.jsonl",
    ("gsm8k", "test"): "gsm8k/test.jsonl",
    ("gsm8k_backward", "test"): "gsm8k/backward_test.jsonl",
    ("math", "train"): "math/train.jsonl",
    ("math", "test"): "math/test.jsonl",
    ("math500", "test"): "math/math500.jsonl",
}

# Used only when no local root exists (online users).
HUB_SOURCES = {
    ("gsm8k", "train"): "hf://openai/gsm8k?config=main&split=train",
    ("gsm8k", "test"): "hf://openai/gsm8k?config=main&split=test",
    ("gsm8k_backward", "test"): "hf://meta-math/GSM8K_Backward?split=test",
    ("math", "train"): "hf://DigitalLearningGmbH/MATH-lighteval?split=train",
    ("math", "test"): "hf://DigitalLearningGmbH/MATH-lighteval?split=test",
    ("math500", "test"): "hf://HuggingFaceH4/MATH-500?split=test",
}

_REPO_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def resolve_data_root(explicit: str | None = None) -> Path | None:
    """The local data root, or None when the Hub should be used."""
    for candidate in (explicit, os.environ.get("METAMATH_DATA_DIR")):
        if candidate:
            root = Path(candidate).expanduser()
            if not root.is_dir():
                raise DataError(f"data root {root} does not exist (from {'config' if candidate == explicit else 'METAMATH_DATA_DIR'})")
            return root
    return _REPO_SHARED if _REPO_SHARED.is_dir() else None


def resolve_source(benchmark: str, split: str, path: str | None = None, root: str | None = None) -> str:
    """A concrete source string for (benchmark, split)."""
    if path:
        return path
    key = (benchmark, split)
    if key not in LOCAL_FILES:
        raise DataError(f"no {split} split for benchmark {benchmark!r}")
    data_root = resolve_data_root(root)
    if data_root is None:
        return HUB_SOURCES[key]
    local = data_root / LOCAL_FILES[key]
    if not local.is_file():
        raise DataError(f"{local}: missing (data root {data_root})")
    return str(local)
