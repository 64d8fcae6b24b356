"""`metamath pipeline`: augment, train on the result, evaluate the base and the fine-tuned
model, compare. Each stage reads its own section of the one YAML; the pipeline only wires
outputs to inputs (the train data defaults to the augment output, the fine-tuned
evaluation to the train export) and skips stages already finished."""

from __future__ import annotations

from typing import Any, Callable

from metamath import storage
from metamath.config import MetaMathConfig


def _augment(cfg: MetaMathConfig) -> tuple[dict[str, str], dict[str, Any]]:
    from metamath.augment.job import run_augment

    stats = run_augment(cfg)
    return ({"metamathqa": stats["outputs"]["metamathqa.jsonl"], "stats": stats["outputs"]["stats.json"]},
            {"rows": stats["rows"], "requests": stats["requests"]})


def _train(cfg: MetaMathConfig) -> tuple[dict[str, str], dict[str, Any]]:
    from metamath.train.job import run_train

    summary = run_train(cfg)
    return ({"final": summary["final"], "metrics": storage.join(cfg.train.output_dir, "metrics.jsonl")},
            {"first_loss": summary["first_loss"], "last_loss": summary["last_loss"], "steps": summary["plan"]["total_steps"]})


def evaluated_as(cfg: MetaMathConfig, label: str, model: str) -> MetaMathConfig:
    """The config of one of the pipeline's evaluations (base or fine-tuned), in its own folder."""
    out = storage.join(cfg.evaluate.output_dir, label)
    return cfg.model_copy(update={"evaluate": cfg.evaluate.model_copy(update={"model": model, "output_dir": out})})


def evaluation_configs(cfg: MetaMathConfig) -> list[MetaMathConfig]:
    """The base evaluation, then the fine-tuned one when the pipeline trains."""
    configs = [evaluated_as(cfg, "base", cfg.require("evaluate").model)]
    if cfg.train is not None:
        configs.append(evaluated_as(cfg, "finetuned", finetuned_model(cfg)))
    return configs


def _evaluate_as(label: str, model: str) -> Callable[[MetaMathConfig], tuple[dict[str, str], dict[str, Any]]]:
    def run(cfg: MetaMathConfig) -> tuple[dict[str, str], dict[str, Any]]:
        from metamath.evaluate.job import run_evaluate

        sub = evaluated_as(cfg, label, model)
        out = sub.evaluate.output_dir
        result = run_evaluate(sub, label=label)
        return ({"report": storage.join(out, "report.json"), "report_md": storage.join(out, "report.md")},
                result["reports"])

    return run


def wire(cfg: MetaMathConfig) -> MetaMathConfig:
    """The train data default to the augment output."""
    if cfg.train is not None and cfg.train.data_path is None and cfg.augment is not None:
        data = storage.join(cfg.augment.output_dir, "metamathqa.jsonl")
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"data_path": data})})
    return cfg


def plan(cfg: MetaMathConfig) -> list[tuple[str, str, Callable]]:
    """(state name, config section, runner) in order, for the chosen stages."""
    chosen = cfg.require("pipeline").stages
    steps: list[tuple[str, str, Callable]] = []
    if "augment" in chosen:
        steps.append(("augment", "augment", _augment))
    if "train" in chosen:
        steps.append(("train", "train", _train))
    if "evaluate" in chosen:
        evaluate = cfg.require("evaluate")
        steps.append(("evaluate_base", "evaluate", _evaluate_as("base", evaluate.model)))
        if cfg.train is not None:
            steps.append(("evaluate_finetuned", "evaluate", _evaluate_as("finetuned", finetuned_model(cfg))))
    return steps


def finetuned_model(cfg: MetaMathConfig) -> str:
    """The train stage's export: `final/` under its output folder, a local path or a URI."""
    return storage.join(cfg.train.output_dir, "final")
