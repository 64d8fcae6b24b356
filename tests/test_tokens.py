import pytest

from metamath.errors import ConfigError
from metamath.tokens import token_counter

EMBEDDED = "smollm2-135m-instruct"


def _few_shot(question: str) -> list[dict]:
    shots = [("Tom has 3 apples and eats one. How many are left?", "3 - 1 = 2. The answer is: 2"),
             ("A box holds 12 eggs. How many eggs are in 4 boxes?", "12 * 4 = 48. The answer is: 48")]
    messages = [{"role": "system", "content": "Solve the problem step by step."}]
    for q, a in shots:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return messages + [{"role": "user", "content": question}]


def test_a_local_tokenizer_counts_chat_prompts_as_its_template_does():
    from transformers import AutoTokenizer

    from metamath.models import resolve_model

    counter = token_counter(EMBEDDED)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(EMBEDDED, tokenizer_only=True))
    assert counter.exact and "chat template" in counter.method
    for question in ("Natalia sold 48 clips in April. How many in May?", "What is 7 + 5, and then times 3?"):
        messages = _few_shot(question)
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        exact = len(tokenizer.encode(text, add_special_tokens=False))
        assert abs(counter.prompt(messages) - exact) <= 2  # one measured template overhead per shape
    assert counter.prompt("raw text prompt") == len(tokenizer.encode("raw text prompt", add_special_tokens=False))


def test_an_unknown_api_model_falls_back_to_a_stated_approximation():
    counter = token_counter("some-api-model-nobody-knows")
    assert counter.method.startswith("approximation: 4 characters per token") and not counter.exact
    assert counter.prompt([{"role": "user", "content": "x" * 40}]) == 10 + 4 + 3


def test_a_named_tokenizer_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="teacher.tokenizer"):
        token_counter("gpt-4o-mini", tokenizer=str(tmp_path / "nothing-here"))
    assert token_counter("gpt-4o-mini", tokenizer=EMBEDDED).exact
