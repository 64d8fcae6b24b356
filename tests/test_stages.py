from metamath.config import load_config
from metamath.stages import plan_stage


def test_a_pipeline_dry_run_plans_augment_and_both_evaluations_and_writes_nothing(data_root, tmp_path):
    cfg = load_config("configs/local.yaml", ["augment.limit=3", "evaluate.limit=2", f"pipeline.output_dir={tmp_path / 'p'}",
                                             f"augment.output_dir={tmp_path / 'a'}", f"train.output_dir={tmp_path / 't'}",
                                             f"evaluate.output_dir={tmp_path / 'e'}"])
    plans = plan_stage("pipeline", cfg)
    assert [p["kind"] for p in plans] == ["augment", "evaluate", "evaluate"]
    assert plans[2]["model"].endswith("final")  # the fine-tuned model, planned before it exists
    assert plans[1]["totals"]["samples"] == plans[2]["totals"]["samples"] > 0
    assert not any(tmp_path.iterdir())
