"""The grid's bookkeeping with stand-in steps (the real train and evaluate are exercised by
their own tests and by the CPU grid in the README): each cell trains then evaluates, a
finished step never runs again, a failed cell does not stop the others, and the report has
the Table 3 table, the paired tests and real PNG plots."""

import json
from pathlib import Path

import pytest

from metamath.ablate.job import run_ablate
from metamath.config.schema import AblateConfig, EvaluateConfig, MetaMathConfig, TrainConfig
from metamath.errors import MetaMathError

SETS = {"SFT": [], "AnsAug": ["ansaug"], "MetaMath": ["ansaug", "rephrase", "sv", "fobar"]}
# correct items out of 40 per (method set, size): a real gain for MetaMath at the full size
RIGHT = {("AnsAug", 20): 12, ("MetaMath", 20): 14,
         ("SFT", None): 10, ("AnsAug", None): 16, ("MetaMath", None): 30}


def _write_evaluation(folder: Path, label: str, right: int) -> None:
    """What `metamath evaluate` leaves: report.json, run.json and per-item predictions."""
    (folder / "gsm8k").mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"q{i}", "paper_correct": i < right, "strict_correct": i < right} for i in range(40)]
    (folder / "gsm8k" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    entry = {"accuracy": right / 40, "correct": right}
    (folder / "report.json").write_text(json.dumps({"gsm8k": {"n": 40, "paper": entry, "strict": entry}}))
    (folder / "run.json").write_text(json.dumps({"label": label}))


class Steps:
    def __init__(self, fail: set[str] = frozenset()):
        self.calls, self.fail = [], set(fail)

    def train(self, cfg, cell):
        self.calls.append(f"{cell.name}/train")
        if cell.name in self.fail:
            raise RuntimeError("worker lost")
        Path(cell.train.output_dir, "final").mkdir(parents=True)
        return {"final": str(Path(cell.train.output_dir, "final"))}, {"examples": 20 if cell.size else 50}

    def evaluate(self, cfg, cell):
        self.calls.append(f"{cell.name}/evaluate")
        _write_evaluation(Path(cell.evaluate.output_dir), cell.name, RIGHT[(cell.method_set, cell.size)])
        return {"report": str(Path(cell.evaluate.output_dir) / "report.json")}, {}

    def as_dict(self):
        return {"train": self.train, "evaluate": self.evaluate}


@pytest.fixture
def cfg(tmp_path):
    data = tmp_path / "metamathqa.jsonl"
    data.write_text("{}\n")
    return MetaMathConfig(train=TrainConfig(), evaluate=EvaluateConfig(),
                          ablate=AblateConfig(data_path=str(data), output_dir=str(tmp_path / "abl"), method_sets=SETS,
                                              sizes=[20, None]))


def test_every_cell_runs_once_and_the_report_has_table_paired_tests_and_plots(cfg, tmp_path):
    steps = Steps()
    report = run_ablate(cfg, steps.as_dict())
    # SFT (no methods) does not change with the size: one cell, not one per size
    assert len(steps.calls) == 10 and steps.calls[:2] == ["AnsAug@20/train", "AnsAug@20/evaluate"]
    text = (tmp_path / "abl" / "ablation.md").read_text()
    assert "### size all" in text and "| MetaMath | ansaug, rephrase, sv, fobar | 50 | 75.0 [" in text
    assert "| SFT | originals only | 50 | 25.0 [" in text
    paired = {(r["b"], r["scorer"]): r for r in report["paired"]}
    assert paired[("MetaMath@all", "paper")]["significant"] and not paired[("AnsAug@20", "paper")]["significant"]
    assert {r["a"] for r in report["paired"]} == {"SFT@all"}  # the baseline of every size
    assert text.count("| SFT | originals only | 50 |") == 2  # shown in both sizes' tables
    for name in ("accuracy_vs_size.png", "table3.png"):
        assert (tmp_path / "abl" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = Steps()
    run_ablate(cfg, again.as_dict())
    assert again.calls == []  # a finished cell is never run again


def test_a_failed_cell_does_not_stop_the_grid_and_a_rerun_retries_only_it(cfg, tmp_path):
    steps = Steps(fail={"AnsAug@20"})
    with pytest.raises(MetaMathError, match=r"1 cell\(s\) failed: AnsAug@20"):
        run_ablate(cfg, steps.as_dict())
    assert "MetaMath@all/evaluate" in steps.calls and "AnsAug@20/evaluate" not in steps.calls
    assert json.loads((tmp_path / "abl" / "ablation.json").read_text())["missing"] == ["AnsAug@20"]
    retry = Steps()
    run_ablate(cfg.model_copy(update={"ablate": cfg.ablate.model_copy(update={"cells": ["AnsAug@20"]})}), retry.as_dict())
    assert retry.calls == ["AnsAug@20/train", "AnsAug@20/evaluate"]
    assert json.loads((tmp_path / "abl" / "ablation.json").read_text())["missing"] == []


def test_a_missing_augment_output_is_named_before_any_cell_runs(cfg, tmp_path):
    missing = cfg.model_copy(update={"ablate": cfg.ablate.model_copy(update={"data_path": str(tmp_path / "none.jsonl")})})
    steps = Steps()
    with pytest.raises(MetaMathError, match="none.jsonl: the augment output the ablation trains on is missing"):
        run_ablate(missing, steps.as_dict())
    assert steps.calls == []


def test_accuracy_gains_over_the_baseline_feed_the_diversity_correlation(cfg, tmp_path):
    from metamath.ablate.report import accuracy_gains
    from metamath.analysis.diversity import load_gains

    run_ablate(cfg, Steps().as_dict())
    gains = load_gains(str(tmp_path / "abl" / "ablation.json"))
    assert gains == pytest.approx({"AnsAug@20": 0.05, "MetaMath@20": 0.1, "AnsAug@all": 0.15, "MetaMath@all": 0.5,
                                   "AnsAug": 0.15, "MetaMath": 0.5})  # the largest size also by method set
    assert accuracy_gains(json.loads((tmp_path / "abl" / "ablation.json").read_text()), "strict") == gains
