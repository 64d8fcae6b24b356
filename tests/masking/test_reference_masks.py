"""Masking against the reference code's own output (tests/fixtures/reference/gsm8k_masks.json,
recorded by record_reference.py from meta-math/MetaMath@fe667b1 on 300 GSM8K questions)."""

import json
from collections import Counter
from pathlib import Path

import pytest

from metamath.config.schema import MaskingConfig
from metamath.masking import gsm8k_masks
from metamath.masking.numbers import NUMBER_WORDS, find_numbers

ORACLE = Path(__file__).parents[1] / "fixtures" / "reference" / "gsm8k_masks.json"


@pytest.fixture(scope="module")
def reference(data_root):
    from metamath.data import load_benchmark

    questions = {p.id: p.question for p in load_benchmark("gsm8k", "train", limit=300).problems}
    out = []
    for row in json.loads(ORACLE.read_text())["questions"]:
        question = questions[row["id"]]
        tokens = question.split(" ")
        masked = {}
        for index, token, replacement in row["candidates"]:
            assert tokens[index] == token  # the data is the one the oracle was recorded on
            masked[" ".join(tokens[:index] + [replacement] + tokens[index + 1:])] = token
        out.append((question, masked))
    return out


def test_every_question_we_mask_is_written_as_the_reference_writes_it(reference):
    ours = [(m.masked, masked) for question, masked in reference for m in gsm8k_masks(question)]
    assert len(ours) > 800
    assert [text for text, ref in ours if text not in ref] == []


def _why_skipped(question: str, token: str) -> str | None:
    """Our deliberate differences (docs/method.md), or None when a skip is unexplained."""
    if token in ("one", "fifth"):
        return "number_word_left_out"
    if "/" in token:
        return "fraction"
    values = Counter(s.value for s in find_numbers(question))
    number = token.strip("$£%,.?!;'\"\u201d")
    spans = [s for s in find_numbers(question) if s.text == number]
    if spans and values[spans[0].value] > 1:
        return "value_repeated"
    return None


def test_every_reference_mask_we_skip_is_a_documented_difference(reference):
    reasons = Counter()
    for question, masked in reference:
        ours = {m.masked for m in gsm8k_masks(question)}
        for text, token in masked.items():
            if text not in ours:
                reasons[_why_skipped(question, token)] += 1
    assert reasons[None] == 0, reasons
    assert set(reasons) == {"number_word_left_out", "fraction", "value_repeated"}


@pytest.mark.parametrize(
    "question,key,reference_masks,with_key",
    [
        ("Julie is reading a 120-page book for 3 days?", "numbers_in_compounds",
         ["Julie is reading a 120-page book for x days?"], "Julie is reading a x-page book for 3 days?"),
        ("Ten of them ate 3 pies.", "capitalised_number_words", ["Ten of them ate x pies."], "x of them ate 3 pies."),
        ("He saw two, then 3 more.", "number_words_with_punctuation", ["He saw two, then x more."], "He saw x, then 3 more."),
        ("It costs $5. He has 3.", "keep_token_affixes", ["It costs x. He has 3.", "It costs $5. He has x."],
         "It costs $x. He has 3."),
    ],
)
def test_each_difference_is_off_by_default_and_on_with_its_key(question, key, reference_masks, with_key):
    assert [m.masked for m in gsm8k_masks(question)] == reference_masks
    assert with_key in [m.masked for m in gsm8k_masks(question, MaskingConfig(**{key: True}))]


def test_number_words_are_the_reference_s_lookup_less_two_words():
    assert set(NUMBER_WORDS) == {"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                                 "twelve", "sixteen"}
    assert [m.masked for m in gsm8k_masks("A class of sixteen kids.")] == ["A class of x kids."]
