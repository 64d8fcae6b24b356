import pytest

from metamath.prompts.templates import PROMPT_NO_INPUT, PROMPT_WITH_INPUT
from metamath.train.examples import IGNORE_INDEX, encode_batch, encode_example

QUERY = "Tom has 3 apples and buys 4 more. How many apples?"
FOBAR = "Tom has x apples and buys 4 more.\nIf we know the answer to the above question is 7, what is x?"
RESPONSE = "He has 3 + 4 = 7 apples.\n#### 7\nThe answer is: 7"


def _check_masks(tok, example, prompt):
    prompt_ids = tok(prompt)["input_ids"]
    n = len(prompt_ids)
    assert example.input_ids[:n] == prompt_ids
    for i, (token, label) in enumerate(zip(example.input_ids, example.labels)):
        assert label == (IGNORE_INDEX if i < n else token), f"token {i}"
    assert example.labels[-1] == tok.eos_token_id
    assert tok.decode(example.input_ids[n:-1]) == RESPONSE  # the response follows directly
    assert tok.decode(example.input_ids[:n]) == prompt


def test_paper_template_no_input_masks_prompt_token_by_token(embedded_tokenizer):
    example = encode_example(embedded_tokenizer, QUERY, RESPONSE, "paper", 512)
    _check_masks(embedded_tokenizer, example, PROMPT_NO_INPUT.format(instruction=QUERY))
    assert not example.truncated


def test_paper_template_splits_a_newline_query_into_the_with_input_template(embedded_tokenizer):
    example = encode_example(embedded_tokenizer, FOBAR, RESPONSE, "paper", 512)
    first, rest = FOBAR.split("\n", 1)
    prompt = PROMPT_WITH_INPUT.format(instruction=first, input=rest)
    assert "### Input:\nIf we know" in prompt
    _check_masks(embedded_tokenizer, example, prompt)


def test_uniform_template_keeps_the_newline_query_whole(embedded_tokenizer):
    example = encode_example(embedded_tokenizer, FOBAR, RESPONSE, "uniform", 512)
    _check_masks(embedded_tokenizer, example, PROMPT_NO_INPUT.format(instruction=FOBAR))


def test_truncation_cuts_the_right_and_is_flagged(embedded_tokenizer):
    full = encode_example(embedded_tokenizer, QUERY, RESPONSE, "paper", 512)
    cut = encode_example(embedded_tokenizer, QUERY, RESPONSE, "paper", len(full.input_ids) - 5)
    assert cut.truncated and cut.input_ids == full.input_ids[:-5] and cut.labels == full.labels[:-5]
    assert embedded_tokenizer.eos_token_id not in cut.labels


def test_a_row_with_no_response_left_is_dropped(embedded_tokenizer):
    n_prompt = len(embedded_tokenizer(PROMPT_NO_INPUT.format(instruction=QUERY))["input_ids"])
    assert encode_example(embedded_tokenizer, QUERY, RESPONSE, "paper", n_prompt) is None
    out = encode_batch({"query": [QUERY, QUERY], "response": [RESPONSE, RESPONSE]}, embedded_tokenizer, "paper", n_prompt + 1)
    assert out["dropped"] == [False, False] and out["truncated"] == [True, True]
    out = encode_batch({"query": [QUERY], "response": [RESPONSE]}, embedded_tokenizer, "paper", n_prompt)
    assert out["dropped"] == [True] and out["input_ids"] == [[]]


def test_unknown_template_is_refused(embedded_tokenizer):
    with pytest.raises(ValueError, match="unknown template"):
        encode_example(embedded_tokenizer, QUERY, RESPONSE, "alpaca", 512)
