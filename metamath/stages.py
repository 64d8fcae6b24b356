"""Stage dispatch: each command validates its config, then runs its stage."""

from __future__ import annotations

from importlib import import_module

from metamath.config import MetaMathConfig

# command -> (config section it needs, module, entry function)
STAGES = {
    "augment": ("augment", "metamath.augment.job", "run_augment"),
    "train": ("train", "metamath.train.job", "run_train"),
    "evaluate": ("evaluate", "metamath.evaluate.job", "run_evaluate"),
    "pipeline": ("pipeline", "metamath.pipeline.job", "run_pipeline"),
}


def run_stage(name: str, cfg: MetaMathConfig) -> None:
    from metamath.preflight import preflight

    section, module, function = STAGES[name]
    cfg.require(section)
    preflight(name, cfg)
    getattr(import_module(module), function)(cfg)
