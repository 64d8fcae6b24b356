"""The cells of an ablation: method set x data size, each a train config and an evaluate config
derived from the run's own `train` and `evaluate` sections, all reading one augment output."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from metamath import storage
from metamath.config import MetaMathConfig
from metamath.config.schema import AblateConfig, EvaluateConfig, TrainConfig
from metamath.errors import ConfigError
from metamath.records.schema import record_type


@dataclass(frozen=True)
class Cell:
    name: str  # "AnsAug+Rephrasing@20000", "SFT@all"
    method_set: str
    methods: tuple[str, ...]
    size: Optional[int]
    folder: str  # <ablate.output_dir>/cells/<name>: train/ and evaluate/ inside (a URI on a cluster)
    train: TrainConfig
    evaluate: EvaluateConfig


def size_label(size: Optional[int]) -> str:
    return "all" if size is None else str(size)


def ablation_data(cfg: MetaMathConfig) -> str:
    """The one augment output every cell trains on."""
    acfg: AblateConfig = cfg.require("ablate")
    if acfg.data_path:
        return acfg.data_path
    if cfg.augment is not None:
        return storage.join(cfg.augment.output_dir, "metamathqa.jsonl")
    raise ConfigError(f"{cfg.source or 'the config'}: ablate.data_path is not set and there is no augment "
                      "section to take augment.output_dir/metamathqa.jsonl from")


def types_of(methods: tuple[str, ...]) -> list[str]:
    """The MetaMathQA types of these methods, GSM8K and MATH alike (the paper ablates both)."""
    return [record_type(dataset, method) for dataset in ("gsm8k", "math") for method in methods]


def build_cells(cfg: MetaMathConfig) -> list[Cell]:
    acfg: AblateConfig = cfg.require("ablate")
    tcfg, ecfg = cfg.require("train"), cfg.require("evaluate")
    data, out = ablation_data(cfg), storage.join(acfg.output_dir, "cells")
    cells = []
    for size in acfg.sizes:
        for set_name, methods in acfg.method_sets.items():
            if not methods and size != acfg.sizes[-1]:
                continue  # the originals alone do not change with the size: one cell, at the last size
            rows = size if methods else None
            name = f"{set_name}@{size_label(rows)}"
            folder = storage.join(out, re.sub(r'[^A-Za-z0-9._+@-]', '_', name))
            train = tcfg.model_copy(update={"data_path": data, "types": types_of(tuple(methods)), "max_rows": rows,
                                            "output_dir": storage.join(folder, "train")})
            evaluate = ecfg.model_copy(update={"model": storage.join(folder, "train", "final"),
                                               "output_dir": storage.join(folder, "evaluate")})
            cells.append(Cell(name, set_name, tuple(methods), rows, folder, train, evaluate))
    return cells


def select_cells(cells: list[Cell], only: Optional[list[str]]) -> list[Cell]:
    """`ablate.cells` (`--cell NAME`, repeatable): run just these, e.g. one Ray job per cell."""
    if not only:
        return cells
    known = {c.name: c for c in cells}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise ConfigError(f"ablate.cells: {', '.join(unknown)} not in this grid; its cells: {', '.join(known)}")
    return [known[name] for name in only]
