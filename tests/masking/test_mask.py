import re

from hypothesis import given, settings
from hypothesis import strategies as st

from metamath.latex import math_spans
from metamath.config.schema import MaskingConfig
from metamath.masking import gsm8k_masks, is_plain_number, math_masks
from metamath.masking.numbers import find_numbers, reference_token_replacement

KEEP_AFFIXES = MaskingConfig(keep_token_affixes=True)

WORDS = st.sampled_from(["apples", "Tom", "buys", "each", "costs", "the", "of", "and", "boxes", "percent", "a"])
NUMBERS = st.integers(0, 10**7).map(lambda n: f"{n:,}") | st.decimals(0, 1000, places=2).map(str) | st.integers(0, 999).map(str)
DECOR = st.sampled_from(["{}", "${}", "{}%", "{}."])


@st.composite
def gsm_questions(draw):
    parts = []
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            parts.append(draw(DECOR).format(draw(NUMBERS)))
        else:
            parts.append(draw(WORDS))
    return " ".join(parts) + " How many are left?"


def _digits(text):
    return [s for s in find_numbers(text) if s.kind == "digits"]


@settings(max_examples=300, deadline=None)
@given(gsm_questions())
def test_gsm8k_mask_replaces_exactly_one_number(question):
    for mask in gsm8k_masks(question, KEEP_AFFIXES):
        original = question[mask.start : mask.end]
        assert mask.masked == question[: mask.start] + ("x%" if original.lower() == "half" else "x") + question[mask.end :]
        assert re.fullmatch(r"[\d,.]+|half|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve", original, re.I)
        assert len(_digits(mask.masked)) == len(_digits(question)) - (original[0].isdigit() or original[0] == ".")
        assert float(mask.value) == float(original.replace(",", "")) if original[0].isdigit() else True


@settings(max_examples=300, deadline=None)
@given(gsm_questions())
def test_by_default_one_token_is_replaced_as_the_reference_replaces_it(question):
    tokens = question.split(" ")
    for mask in gsm8k_masks(question):
        changed = [i for i, (a, b) in enumerate(zip(tokens, mask.masked.split(" "))) if a != b]
        assert len(changed) == 1
        assert mask.masked.split(" ")[changed[0]] == reference_token_replacement(tokens[changed[0]], "x")


@settings(max_examples=300, deadline=None)
@given(gsm_questions())
def test_every_unique_number_is_a_candidate(question):
    values = [s.value for s in find_numbers(question)]
    unique = [v for v in values if values.count(v) == 1]
    assert sorted(m.value for m in gsm8k_masks(question)) == sorted(unique)


def test_gsm8k_examples():
    question = "Tom buys 3 boxes of 1,200 nails for $4.50 each, a 15% discount and half a pie. How much?"
    masks = {m.value: m.masked for m in gsm8k_masks(question)}
    assert "for $x each" in masks["4.5"] and "a x% discount" in masks["15"]
    assert masks["3"].startswith("Tom buys x boxes")
    masks = {m.value: m.masked for m in gsm8k_masks(question, KEEP_AFFIXES)}
    assert masks["1200"].startswith("Tom buys 3 boxes of x nails")
    assert "for $x each" in masks["4.5"] and "a x% discount" in masks["15"]
    assert "and x% a pie" in masks["50"]
    assert gsm8k_masks("Solve for x: 3 apples") == []  # already has an x


def test_repeated_values_and_non_quantities_are_skipped():
    masks = gsm8k_masks("He has 3 cats and 3 dogs, born on the 2nd at 3:30, ratio 1/2. Total 7?")
    assert [m.value for m in masks] == ["7"]


MATH_TEXT = st.lists(
    st.sampled_from(["Find", "the", "sum", "of", "7", "12", "$x^2+3$", "$\\frac{1}{2}$", "numbers", "20", "$5$", "and"]),
    min_size=1, max_size=12,
).map(lambda parts: " ".join(parts) + "?")


@settings(max_examples=300, deadline=None)
@given(MATH_TEXT)
def test_math_mask_stays_balanced_and_outside_math(question):
    spans = math_spans(question)
    for mask in math_masks(question):
        assert mask.masked == question[: mask.start] + "$X$" + question[mask.end :]
        assert math_spans(mask.masked) is not None
        assert not any(a <= mask.start < b for a, b in spans)


def test_math_examples():
    question = "A class of 30 students took a $100$-point test. What is $\\frac{1}{2}$ of 30 plus 4?"
    assert [m.value for m in math_masks(question)] == ["4"]  # 30 twice; 100 inside math
    assert math_masks("Unbalanced $x cost 5 dollars?") == []
    assert math_masks("Let $X$ be 5. Find 7?") == []
    table = "There are 7 rows. \\begin{tabular}{c} 5 \\end{tabular} [asy] draw(3); [/asy] Find it."
    assert [m.value for m in math_masks(table)] == ["7"]


def test_plain_number_answers():
    assert is_plain_number("12") and is_plain_number("-3.5") and is_plain_number("1,000")
    assert not is_plain_number("\\frac{1}{2}") and not is_plain_number("x+1")


def test_real_questions(data_root):
    from metamath.data import load_benchmark

    problems = load_benchmark("gsm8k", "train", limit=300).problems
    masks = [m for p in problems for m in gsm8k_masks(p.question)]
    assert len(masks) > 600
    for mask in masks:
        standalone_x = re.compile(r"(?<![A-Za-z])x(?![A-Za-z])")
        assert len(standalone_x.findall(mask.masked)) == 1 and not standalone_x.search(mask.question)


def test_half_and_number_words_inside_hyphenated_words_are_never_masked():
    # The reference splits on spaces: "one-half", "half-hour", "five-year-old" are not numbers.
    for text in ("He ate one-half of the pie.", "A half-hour show.", "A five-year-old boy."):
        assert [s.kind for s in find_numbers(text) if s.kind != "digits"] == [], text
    assert [(s.text, s.value) for s in find_numbers("She ate half of the 4 pies.")] == [("half", "50"), ("4", "4")]
