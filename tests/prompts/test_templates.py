from metamath.prompts import inference_prompt, train_prompt

NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\nWhat is 2+2?\n\n### Response:"
)


def test_paper_no_input_byte_for_byte():
    assert train_prompt("What is 2+2?", "paper") == NO_INPUT
    assert train_prompt("What is 2+2?", "uniform") == NO_INPUT


def test_paper_splits_at_first_newline_into_with_input_template():
    query = "Tom has x apples.\nIf we know the answer is 3,\nwhat is x?"
    assert train_prompt(query, "paper") == (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nTom has x apples.\n\n### Input:\nIf we know the answer is 3,\nwhat is x?\n\n### Response:"
    )


def test_uniform_keeps_newlines_in_the_instruction():
    query = "Line one\nLine two"
    assert train_prompt(query, "uniform") == NO_INPUT.replace("What is 2+2?", query)


def test_inference_prompt_adds_step_by_step():
    assert inference_prompt("What is 2+2?") == NO_INPUT + " Let's think step by step."


def test_a_query_whose_only_newline_ends_it_keeps_the_no_input_template():
    # The reference uses the with-input template only when '\n'.join(split[1:]) is non-empty,
    # and its instruction is split[0]: the trailing newline goes (339 MATH training problems).
    assert train_prompt("What is 2+2?\n", "paper") == NO_INPUT
    assert train_prompt("What is 2+2?\n", "uniform") == NO_INPUT.replace("2+2?", "2+2?\n")
