"""Stage dispatch: each command validates its config, then runs its stage."""

from __future__ import annotations

from metamath.config import MetaMathConfig
from metamath.errors import MetaMathError

SECTIONS = {"augment": "augment", "train": "train", "evaluate": "evaluate", "pipeline": "pipeline"}


class NotImplementedStage(MetaMathError):
    pass


def run_stage(name: str, cfg: MetaMathConfig) -> None:
    cfg.require(SECTIONS[name])
    if name == "augment":
        from metamath.augment.job import run_augment

        run_augment(cfg)
        return
    if name == "evaluate":
        from metamath.evaluate.job import run_evaluate

        run_evaluate(cfg)
        return
    if name == "train":
        from metamath.train.job import run_train

        run_train(cfg)
        return
    raise NotImplementedStage(f"`metamath {name}` is not implemented yet (config {cfg.source} is valid)")
