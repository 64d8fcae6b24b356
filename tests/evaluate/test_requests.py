import json

from metamath.config.schema import EvaluateConfig
from metamath.data.benchmarks import Problem
from metamath.evaluate.requests import decoder_config, problem_groups, render
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


def test_groups_carry_the_raw_prompt_and_a_key_that_changes_with_the_model():
    cfg = EvaluateConfig()
    group = problem_groups([PROBLEM], cfg, decoder_config(cfg, "gsm8k"))[0]
    assert json.loads(group.messages) == render(PROBLEM, "paper") and json.loads(group.meta) == {"id": PROBLEM.id}
    other = EvaluateConfig(model="outputs/train/final")
    assert problem_groups([PROBLEM], other, decoder_config(other, "gsm8k"))[0].keys != group.keys


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
