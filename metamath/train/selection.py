"""Training on a slice of MetaMathQA (the paper's ablations and data-size curves).

`train.types` keeps the augmented rows of those types; `train.fraction` and `train.max_rows`
then keep a seeded subset of them. The subset is the rows with the lowest hash of
(seed, query, response), so it does not depend on the file's order, and a smaller subset is
always inside a larger one with the same seed: a data-size curve adds rows, it never swaps
them. The original training solutions (rows with teacher `original`, written by
`augment.include_original`) are kept apart from all this, and trained on when
`train.include_original` is true.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass

from metamath.config.schema import TrainConfig
from metamath.records.schema import MetaMathQARecord

ORIGINAL = "original"


@dataclass(frozen=True)
class Selection:
    augmented_in_file: int
    of_types: int
    augmented_kept: int
    originals_in_file: int
    originals_kept: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def is_selective(cfg: TrainConfig) -> bool:
    return cfg.types is not None or cfg.fraction is not None or cfg.max_rows is not None or not cfg.include_original


def _rank(seed: int, record: MetaMathQARecord) -> bytes:
    return hashlib.sha256(f"{seed}\0{record.query}\0{record.response}".encode()).digest()[:8]


def subset_size(available: int, fraction: float | None, max_rows: int | None) -> int:
    keep = available if fraction is None else math.floor(fraction * available)
    return keep if max_rows is None else min(keep, max_rows)


def select_records(records: list[MetaMathQARecord], cfg: TrainConfig) -> tuple[list[MetaMathQARecord], Selection]:
    """The rows to train on, in file order, and how many of each kind were kept."""
    originals = [r for r in records if r.teacher == ORIGINAL]
    augmented = [r for r in records if r.teacher != ORIGINAL]
    wanted = None if cfg.types is None else set(cfg.types)
    typed = augmented if wanted is None else [r for r in augmented if r.type in wanted]
    keep = subset_size(len(typed), cfg.fraction, cfg.max_rows)
    chosen = {id(r) for r in sorted(typed, key=lambda r: _rank(cfg.seed, r))[:keep]}
    kept_originals = originals if cfg.include_original else []
    chosen |= {id(r) for r in kept_originals}
    selected = [r for r in records if id(r) in chosen]
    return selected, Selection(len(augmented), len(typed), keep, len(originals), len(kept_originals))
