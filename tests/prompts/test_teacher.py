import re

import pytest

from metamath.data.benchmarks import Problem
from metamath.masking import split_question_sentence, sv_rejection
from metamath.prompts import backward_messages, rephrase_messages, select_solve_shots, solve_messages, sv_rewrite_messages
from metamath.prompts.teacher import backward_shot_query, clean_single_line_reply, exemplars


def _problems(n):
    return [Problem(f"id{i}", "gsm8k", f"Question {i}?", str(i), f"Step <<1+1=2>>2.\n#### {i}") for i in range(n)]


def test_solve_prompt_is_eight_shot_and_never_contains_the_question():
    shots = select_solve_shots(_problems(50), seed=3)
    assert shots == select_solve_shots(_problems(50), seed=3) and len(shots) == 9
    asked = shots[0].question
    messages = solve_messages(asked, shots)
    users = [m["content"] for m in messages if m["role"] == "user"]
    assert len(users) == 9 and users[-1] == asked and asked not in users[:-1]
    answers = [m["content"] for m in messages if m["role"] == "assistant"]
    assert all("<<" not in a and "####" not in a and a.endswith(f"The answer is: {a.split()[-1]}") for a in answers)


def test_shots_come_from_the_training_split(data_root):
    from metamath.data import load_benchmark

    train = load_benchmark("math", "train").problems
    test_questions = {p.question for p in load_benchmark("math", "test").problems}
    shots = select_solve_shots(train, seed=0)
    assert not any(s.question in test_questions for s in shots)


@pytest.mark.parametrize("dataset", ["gsm8k", "math"])
def test_fixed_prompts_have_eight_shots(dataset):
    assert len(rephrase_messages(dataset, "Q?")) == 18
    assert len(sv_rewrite_messages(dataset, "How many?", "5")) == 18
    for style in ("sv", "fobar"):
        assert len(backward_messages(dataset, "Q?", style)) == 18


@pytest.mark.parametrize("dataset", ["gsm8k", "math"])
def test_backward_exemplars_are_consistent(dataset):
    """Each hand-written shot: its solution ends with its value; its SV query passes our own
    checks; its FOBAR query follows the template."""
    var = "x" if dataset == "gsm8k" else "X"
    for shot in exemplars(dataset)["backward"]:
        assert shot["solution"].endswith(f"The value of {var} is {shot['value']}.")
        body, sentence = split_question_sentence(shot["masked"])
        assert sentence
        query = backward_shot_query(dataset, shot, "sv")
        assert sv_rejection(query, shot["statement"], shot["value"], shot["answer"], var) is None, shot
        assert backward_shot_query(dataset, shot, "fobar").endswith(
            f"is {shot['answer']}, what is the value of unknown variable {var}?")


def test_gsm8k_backward_exemplar_arithmetic():
    """Substituting the value back gives the stated answer (checked by hand-coded formulas)."""
    formulas = [lambda x: x - 18, lambda x: 15 + x, lambda x: 24 * x, lambda x: 3 * x + 2,
                lambda x: 80 - 0.8 * x, lambda x: 4 * x + 18, lambda x: 60 - x, lambda x: 8 * x / 2]
    for shot, f in zip(exemplars("gsm8k")["backward"], formulas):
        assert f(float(shot["value"])) == float(shot["answer"])


def test_math_backward_exemplar_arithmetic():
    formulas = [lambda x: 4 * x, lambda x: x * (x + 1) / 2, lambda x: (7 + 11 + x) / 3, lambda x: 180 * (x - 2) / x,
                lambda x: x * (x - 1) / 2, lambda x: 2 * x + 3, lambda x: x * x, lambda x: x / 100 * 80]
    for shot, f in zip(exemplars("math")["backward"], formulas):
        assert f(float(shot["value"])) == float(shot["answer"])


def test_rephrase_exemplars_keep_numbers():
    for dataset in ("gsm8k", "math"):
        for shot in exemplars(dataset)["rephrase"]:
            numbers = lambda s: sorted(re.findall(r"\d+", s))  # noqa: E731
            assert numbers(shot["original"]) == numbers(shot["rephrased"]), shot


def test_clean_single_line_reply():
    assert clean_single_line_reply('Rephrased question: "How many?"\n\nExtra') == "How many?"


def test_fewer_shots_on_request():
    assert len(rephrase_messages("gsm8k", "Q?", k=2)) == 6
    assert len(backward_messages("math", "Q?", "sv", k=0)) == 2
    assert len(solve_messages("Q?", select_solve_shots(_problems(20), seed=1), k=3)) == 8
