from metamath.config.schema import AugmentConfig, EvaluateConfig, MetaMathConfig, PipelineConfig, TrainConfig
from metamath.pipeline.run import plan, wire


def _cfg(**pipeline):
    return MetaMathConfig(augment=AugmentConfig(dataset="gsm8k", output_dir="out/aug"),
                          train=TrainConfig(output_dir="out/train"), evaluate=EvaluateConfig(model="base-model"),
                          pipeline=PipelineConfig(**pipeline))


def test_train_data_default_to_the_augment_output_unless_set():
    assert wire(_cfg()).train.data_path == "out/aug/metamathqa.jsonl"
    cfg = _cfg()
    cfg.train.data_path = "mine.jsonl"
    assert wire(cfg).train.data_path == "mine.jsonl"


def test_plan_evaluates_base_and_fine_tuned_and_honours_the_subset():
    assert [name for name, _, _ in plan(_cfg())] == ["augment", "train", "evaluate_base", "evaluate_finetuned"]
    assert [name for name, _, _ in plan(_cfg(stages=["train", "evaluate"]))] == [
        "train", "evaluate_base", "evaluate_finetuned"]
    no_train = _cfg(stages=["evaluate"]).model_copy(update={"train": None})
    assert [name for name, _, _ in plan(no_train)] == ["evaluate_base"]
