"""Where data comes from: explicit path > data root (METAMATH_DATA_DIR, ../shared/data) > the Hub."""

from __future__ import annotations

import os
from pathlib import Path

from metamath import storage
from metamath.errors import DataError

# Relative to a data root laid out like ../shared/data.
LOCAL_FILES = {
    ("gsm8k", "train"): "gsm8k/train.jsonl",
    ("gsm8k", "test"): "gsm8k/test.jsonl",
    ("gsm8k_backward", "test"): "gsm8k/backward_test.jsonl",
    ("math", "train"): "math/train.jsonl",
    ("math", "test"): "math/test.jsonl",
    ("math500", "test"): "math/math500.jsonl",
    ("svamp", "test"): "svamp/test.jsonl",
    ("asdiv", "test"): "asdiv/test.jsonl",
    ("mawps", "test"): "mawps/test.jsonl",
    ("gsm_hard", "test"): "gsm_hard/test.jsonl",
    ("tabmwp", "test"): "tabmwp/test.jsonl",
    ("drop", "test"): "drop/dev_simple_evals.jsonl",
}

# Used only when no local root exists (online users).
HUB_SOURCES = {
    ("gsm8k", "train"): "hf://openai/gsm8k?config=main&split=train",
    ("gsm8k", "test"): "hf://openai/gsm8k?config=main&split=test",
    ("gsm8k_backward", "test"): "hf://meta-math/GSM8K_Backward?split=test",
    ("math", "train"): "hf://DigitalLearningGmbH/MATH-lighteval?split=train",
    ("math", "test"): "hf://DigitalLearningGmbH/MATH-lighteval?split=test",
    ("math500", "test"): "hf://HuggingFaceH4/MATH-500?split=test",
    # Hub copies whose fields the loaders read (the local files' sources are in shared/data's README).
    ("svamp", "test"): "hf://ChilleD/SVAMP?split=test",
    ("asdiv", "test"): "hf://EleutherAI/asdiv?split=validation",
    ("gsm_hard", "test"): "hf://reasoning-machines/gsm-hard?split=train",
    ("drop", "test"): "hf://ucinlp/drop?split=validation",
}

_REPO_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def resolve_data_root(explicit: str | None = None) -> str | None:
    """The data root (a local folder or a URI such as s3://bucket/data), or None when the Hub
    should be used."""
    for candidate in (explicit, os.environ.get("METAMATH_DATA_DIR")):
        if candidate:
            root = storage.absolute(candidate)
            if not storage.is_dir(root):
                raise DataError(f"data root {root} does not exist (from {'config' if candidate == explicit else 'METAMATH_DATA_DIR'})")
            return root
    return str(_REPO_SHARED) if _REPO_SHARED.is_dir() else None


def resolve_source(benchmark: str, split: str, path: str | None = None, root: str | None = None) -> str:
    """A concrete source string for (benchmark, split)."""
    if path:
        return path
    key = (benchmark, split)
    if key not in LOCAL_FILES:
        raise DataError(f"no {split} split for benchmark {benchmark!r}")
    data_root = resolve_data_root(root)
    if data_root is None:
        if key not in HUB_SOURCES:
            raise DataError(f"{benchmark}: no local data (looked in METAMATH_DATA_DIR: unset, and {_REPO_SHARED}: "
                            f"absent) and no Hub copy with its fields; set data.root or METAMATH_DATA_DIR to a folder "
                            f"holding {LOCAL_FILES[key]}")
        return HUB_SOURCES[key]
    local = storage.join(data_root, LOCAL_FILES[key])
    if not storage.is_file(local):
        raise DataError(f"{local}: missing (data root {data_root}; {benchmark} is read from {LOCAL_FILES[key]} there)")
    return local
