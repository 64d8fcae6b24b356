import pytest

from metamath.config import ConfigError, TeacherConfig, load_config
from metamath.generation.budget import Budget, cost_usd, exhausted, prompt_bound, remaining

PRICES = {"prompt": 1.0, "completion": 2.0}  # USD per million tokens


def test_a_request_is_admitted_only_if_spend_plus_in_flight_plus_its_bound_fit():
    budget = Budget(max_cost_usd=10e-6, prices=PRICES)
    assert budget.admit(4e-6) and budget.admit(4e-6)
    assert not budget.admit(4e-6)  # 8 in flight + 4 > 10, though nothing is spent yet
    budget.settle(4e-6, 1e-6)  # came back cheaper than its bound
    assert budget.admit(4e-6)  # 1 spent + 4 in flight + 4 <= 10
    assert budget.refused == 1 and budget.started == 3


def test_an_error_without_usage_keeps_its_bound_as_spent():
    budget = Budget(max_cost_usd=1.0, prices=PRICES)
    budget.admit(0.3)
    budget.settle(0.3, None)  # a timeout: it may have been served
    assert budget.spent_usd == pytest.approx(0.3) and budget.in_flight_usd == 0


def test_max_requests_counts_started_requests():
    budget = Budget(max_requests=2)
    assert budget.admit(0) and budget.admit(0) and not budget.admit(0)


def test_the_bound_never_undercounts_a_prompt():
    from metamath.tokens import token_counter

    counter = token_counter("smollm2-135m-instruct")
    messages_json = '[{"role": "user", "content": "Natalia sold clips to 48 of her friends in April. \\u00bd?"}]'
    import json

    assert prompt_bound(messages_json) >= counter.prompt(json.loads(messages_json))
    assert cost_usd(PRICES, 1_000_000, 500_000) == pytest.approx(2.0)


def test_later_rounds_get_what_is_left():
    cfg = TeacherConfig(backend="openai", max_cost_usd=1.0, max_requests=10, price_per_million=PRICES)
    left = remaining(cfg, 0.25, 4)
    assert left.max_cost_usd == pytest.approx(0.75) and left.max_requests == 6
    assert exhausted(cfg, 1.0, 3) and exhausted(cfg, 0.1, 10) and not exhausted(cfg, 0.5, 5)


@pytest.mark.parametrize("value,words", [("-1", "greater than 0"), ("0", "greater than 0"), ("lots", "valid number")])
def test_a_bad_cap_is_a_config_error_naming_the_key(value, words):
    with pytest.raises(ConfigError) as info:
        load_config(None, ["augment.dataset=gsm8k", "teacher.backend=openai",
                           "teacher.price_per_million={prompt: 1, completion: 2}", f"teacher.max_cost_usd={value}"])
    assert "teacher.max_cost_usd" in str(info.value) and words in str(info.value)


def test_a_cap_without_prices_is_a_config_error():
    with pytest.raises(ConfigError, match="max_cost_usd needs price_per_million"):
        load_config(None, ["augment.dataset=gsm8k", "teacher.backend=openai", "teacher.max_cost_usd=5"])
    with pytest.raises(ConfigError, match="max_requests"):
        load_config(None, ["augment.dataset=gsm8k", "teacher.backend=openai", "teacher.max_requests=0"])
    with pytest.raises(ConfigError, match="backend hf runs locally"):
        load_config(None, ["augment.dataset=gsm8k", "teacher.max_requests=3"])
