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
    "ablate": ("ablate", "metamath.ablate.job", "run_ablate"),
}


def run_stage(name: str, cfg: MetaMathConfig) -> None:
    from metamath.preflight import preflight

    section, module, function = STAGES[name]
    cfg.require(section)
    if name == "ablate":  # every cell trains and evaluates
        cfg.require("train"), cfg.require("evaluate")
    preflight(name, cfg)
    getattr(import_module(module), function)(cfg)
