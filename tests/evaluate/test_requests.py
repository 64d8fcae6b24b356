import json

from metamath.config.schema import EvaluateConfig
from metamath.data.benchmarks import Problem
from metamath.evaluate.requests import decoder_config, render
from metamath.prompts.templates import PAPER_STOP

PROBLEM = Problem(id="gsm8k/test/1", benchmark="gsm8k", question="What is 2 + 3?", gold="5", solution="",
                  subject=None, level=None, line=1)


def test_paper_prompt_is_byte_exact():
    assert render(PROBLEM, "paper") == (
        "Below is an instruction that describes a task. Write a response that appropriately completes the request."
        "\n\n### Instruction:\nWhat is 2 + 3?\n\n### Response: Let's think step by step."
    )


def test_chat_prompt_is_one_user_message():
    assert render(PROBLEM, "chat") == [{"role": "user", "content": "What is 2 + 3?"}]


def test_decoder_is_greedy_with_paper_stops_and_per_benchmark_max_tokens():
    cfg = EvaluateConfig(backend="openai", base_url="http://127.0.0.1:1/v1", max_tokens={"gsm8k": 512, "math": 2048})
    gsm, math = decoder_config(cfg, "gsm8k"), decoder_config(cfg, "math")
    assert gsm.temperature == 0.0 and gsm.max_tokens == 512 and math.max_tokens == 2048
    assert gsm.stop == PAPER_STOP and gsm.base_url == cfg.base_url and gsm.backend == "openai"
    assert decoder_config(EvaluateConfig(prompt="chat"), "gsm8k").stop is None
    assert decoder_config(EvaluateConfig(stop=["###"]), "gsm8k").stop == ["###"]


def test_an_item_asks_greedy_and_sampled_with_its_own_parameters_and_keys_follow_the_model():
    """One round serves every benchmark: each group carries its benchmark's max_tokens and its
    pass's temperature in its params (and keys), and the meta says which it is."""
    from metamath.evaluate.decode import item_groups, round_decoder

    cfg = EvaluateConfig(benchmarks=["gsm8k", "math"], max_tokens={"gsm8k": 512, "math": 2048}, samples=3)
    row = {**PROBLEM.to_dict(), "benchmark": "gsm8k", "index": 0}
    kwargs = {"decoders": {b: decoder_config(cfg, b) for b in cfg.benchmarks},
              "samplers": {b: decoder_config(cfg, b, sampled=True) for b in cfg.benchmarks}}
    greedy, sampled = item_groups(row, cfg, **kwargs)
    assert json.loads(greedy["messages"]) == render(PROBLEM, "paper")
    assert json.loads(greedy["params"]) == {"max_tokens": 512, "temperature": 0.0, "top_p": 1.0, "stop": PAPER_STOP}
    assert json.loads(sampled["params"])["temperature"] == 0.7 and len(sampled["keys"]) == 3
    assert (json.loads(greedy["meta"])["pass"], json.loads(sampled["meta"])["pass"]) == ("greedy", "sampled")
    assert round_decoder(cfg).max_tokens == 2048  # the round's own bound: the widest benchmark
    other = EvaluateConfig(model="outputs/train/final")
    moved = item_groups(row, other, {"gsm8k": decoder_config(other, "gsm8k")}, {})
    assert len(moved) == 1 and moved[0]["keys"] != greedy["keys"]


def test_every_engine_key_of_the_evaluate_section_reaches_the_decoder():
    """The decoder takes the engine keys from the same definition as the teacher: a key added to
    EngineConfig reaches evaluation without a line copied by hand."""
    from metamath.config.schema import EngineConfig

    changed = {"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "K",
               "max_concurrency": 3, "requests_per_minute": 7, "tokens_per_minute": 70, "max_retries": 1,
               "timeout_s": 9.0, "shutdown_grace_s": 2.0, "price_per_million": {"prompt": 1.0}, "tokenizer": "t",
               "stop": ["Q:"], "batch_size": 3, "replicas": 2, "tensor_parallel_size": 2, "use_gpu": True,
               "max_model_len": 1024, "kv_cache_gb": 3, "engine_kwargs": {"seed": 1}}
    assert set(changed) == set(EngineConfig.model_fields)  # a new engine key: add it here too
    decoder = decoder_config(EvaluateConfig(**changed), "gsm8k")
    assert {key: getattr(decoder, key) for key in changed} == changed
