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


def run_stage(name: str, cfg: MetaMathConfig, **flags: bool) -> None:
    """Validate, check what the stage needs, run it; `flags` are the command's own (--submit-only)."""
    from metamath.preflight import preflight

    section, module, function = STAGES[name]
    cfg.require(section)
    if name == "ablate":  # every cell trains and evaluates
        cfg.require("train"), cfg.require("evaluate")
    preflight(name, cfg)
    getattr(import_module(module), function)(cfg, **flags)


def plan_stage(name: str, cfg: MetaMathConfig) -> list[dict]:
    """`--dry-run`: the plan of every paid or decoding stage the command would run; nothing is
    sent, started or written."""
    from metamath.pipeline.run import evaluation_configs, wire

    section, _, _ = STAGES[name]
    cfg.require(section)
    if name == "pipeline":
        cfg = wire(cfg)
    plans = []
    stages = cfg.pipeline.stages if name == "pipeline" else [name]
    if "augment" in stages:
        from metamath.augment.plan import plan_augment

        plans.append(plan_augment(cfg))
    if "evaluate" in stages:
        from metamath.evaluate.plan import plan_evaluate

        configs = evaluation_configs(cfg) if name == "pipeline" else [cfg]
        base = cfg.evaluate.tokenizer or cfg.evaluate.model  # the fine-tuned model keeps its base's tokenizer
        plans += [plan_evaluate(c.model_copy(update={"evaluate": c.evaluate.model_copy(
            update={"tokenizer": c.evaluate.tokenizer or base})})) for c in configs]
    return plans
