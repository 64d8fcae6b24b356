import pytest

from metamath.config import ConfigError, load_config, parse_overrides

GOOD = """
augment:
  dataset: gsm8k
  limit: 20
teacher:
  backend: hf
train:
  lr: 2.0e-5
evaluate:
  benchmarks: [gsm8k]
"""


def write(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_combined_file_validates_every_section(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.augment.dataset == "gsm8k" and cfg.augment.limit == 20
    assert cfg.train.lr == 2e-5 and cfg.evaluate.benchmarks == ["gsm8k"]


def test_overrides_take_yaml_values(tmp_path):
    cfg = load_config(
        write(tmp_path, GOOD),
        ["evaluate.benchmarks=[gsm8k,math]", "augment.samples={ansaug: 7}", "train.epochs=1", "augment.limit=null"],
    )
    assert cfg.evaluate.benchmarks == ["gsm8k", "math"]
    assert cfg.augment.samples.ansaug == 7 and cfg.augment.samples.rephrase == 2
    assert cfg.train.epochs == 1 and cfg.augment.limit is None


def test_unknown_key_names_key_and_file(tmp_path):
    path = write(tmp_path, GOOD + "  lrr: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "evaluate.lrr: unknown key" in str(err.value) and str(path) in str(err.value)


def test_wrong_type_in_override_is_attributed_to_it(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD), ["train.lr=fast"])
    message = str(err.value)
    assert "train.lr" in message and "override train.lr" in message and "'fast'" in message


def test_missing_required_value(tmp_path):
    with pytest.raises(ConfigError, match=r"augment.dataset: Field required"):
        load_config(write(tmp_path, "augment:\n  limit: 3\n"))


def test_bad_choice_and_unknown_section(tmp_path):
    with pytest.raises(ConfigError, match=r"teacher.backend"):
        load_config(write(tmp_path, GOOD), ["teacher.backend=grpc"])
    with pytest.raises(ConfigError, match=r"trian: unknown key"):
        load_config(write(tmp_path, "trian: {}\n"))


def test_batch_arithmetic_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="multiple of"):
        load_config(write(tmp_path, "train:\n  global_batch_size: 10\n  micro_batch_size: 4\n"))


def test_yaml_syntax_error_names_line(tmp_path):
    with pytest.raises(ConfigError, match=r"line 3"):
        load_config(write(tmp_path, "augment:\n  dataset: gsm8k\n   limit: 3\n"))


def test_missing_file_and_bad_override_syntax(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="dotted.key=value"):
        parse_overrides(["train.lr"])
    with pytest.raises(ConfigError, match="not a section"):
        load_config(write(tmp_path, GOOD), ["train.lr.x=1"])


def test_require_names_the_missing_section(tmp_path):
    cfg = load_config(write(tmp_path, "evaluate: {}\n"))
    with pytest.raises(ConfigError, match="no 'augment' section"):
        cfg.require("augment")


def test_shipped_configs_are_valid():
    from pathlib import Path

    configs = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))
    assert configs, "configs/ holds no YAML"
    for path in configs:
        cfg = load_config(path)
        if "local" in path.stem:
            continue
        # a GPU recipe's vLLM engines must ask for GPUs: without use_gpu they get CPU bundles
        for section in (cfg.teacher, cfg.evaluate):
            if section is not None and section.backend == "vllm":
                assert section.use_gpu, f"{path.name}: a vllm section without use_gpu: true"


def test_relative_output_dirs_anchor_to_the_output_root(monkeypatch, tmp_path):
    from metamath.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text("augment: {dataset: gsm8k, output_dir: outputs/a}\ntrain: {output_dir: s3://b/t}\n"
                    "evaluate: {output_dir: /abs/e}\npipeline: {output_dir: outputs/p}\n")
    monkeypatch.setenv("METAMATH_OUTPUT_ROOT", "/data/run")
    cfg = load_config(str(path))
    assert cfg.augment.output_dir == "/data/run/outputs/a" and cfg.pipeline.output_dir == "/data/run/outputs/p"
    assert cfg.train.output_dir == "s3://b/t" and cfg.evaluate.output_dir == "/abs/e"
    monkeypatch.delenv("METAMATH_OUTPUT_ROOT")
    assert load_config(str(path)).augment.output_dir == "outputs/a"


def test_masking_keys_default_to_the_reference_and_reject_unknown_ones():
    from metamath.config.schema import AugmentConfig

    masking = AugmentConfig(dataset="gsm8k").masking
    assert masking.model_dump() == {"numbers_in_compounds": False, "capitalised_number_words": False,
                                    "number_words_with_punctuation": False, "keep_token_affixes": False}
    with pytest.raises(Exception, match="hyphenated"):
        AugmentConfig(dataset="gsm8k", masking={"hyphenated": True})


def test_a_key_that_moved_says_where_it_went(tmp_path):
    """`teacher.submit_only` was a config key; it is the command's flag now."""
    path = write(tmp_path, GOOD.replace("  backend: hf\n", "  backend: hf\n  submit_only: true\n"))
    with pytest.raises(ConfigError, match=r"teacher.*metamath augment --submit-only"):
        load_config(path)
