import pytest

from metamath.scoring.paper import paper_number, paper_verdict


@pytest.mark.parametrize(
    "completion,expected",
    [
        ("The answer is: 18", 18),
        ("The answer is: $1,234", 1234),
        ("The answer is: 1,234,567", 1234),  # the reference's regex misreads this; kept on purpose
        ("The answer is: -7 apples", -7),
        ("The answer is: 8.6", 9),
        ("The answer is: 8.5", 8),  # Python's round: half to even, as in the reference
        ("The answer is: 9.5", 10),
        ("The answer is: 7/2", 4),
        ("The answer is: 3/0", 3),
        ("The answer is: none", None),
        ("The answer is 18", None),
    ],
)
def test_gsm8k_number_rules(completion, expected):
    assert paper_number(completion) == expected


def test_gsm8k_rounding_quirk_counts_as_correct():
    assert paper_verdict("gsm8k", "The answer is: 8.6", "9") == ("9", True)
    assert paper_verdict("gsm8k_backward", "The answer is: 2.9", "3")[1]


@pytest.mark.parametrize(
    "completion,gold,ok",
    [
        ("The answer is: \\dfrac{1}{2}", "\\frac{1}{2}", True),
        ("The answer is: 0.5", "\\frac{1}{2}", True),  # Hendrycks maps the string 0.5 only
        ("The answer is: 0.25", "\\frac{1}{4}", False),
        ("The answer is: \\frac12.", "\\frac{1}{2}", True),
        ("The answer is: 3/4", "\\frac{3}{4}", True),
        ("The answer is: x = 5", "5", True),
        ("The answer is: 90^\\circ", "90", True),
        ("The answer is: 5\\text{ cm}", "5", True),
        ("The answer is: \\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", True),
        ("The answer is: (2,5]", "[2,5)", False),
        ("The answer is: Monday", "\\text{Monday}", False),
        ("\\boxed{5}", "5", False),  # no marker: wrong under the paper rules
        ("The answer is: 7.\nExplanation follows", "7", True),
    ],
)
def test_math_rules(completion, gold, ok):
    assert paper_verdict("math", completion, gold)[1] is ok


def test_gold_with_trailing_period_is_reachable():
    # MATH test/intermediate_algebra/1289: the gold itself ends in '.'
    assert paper_verdict("math", "The answer is: \\frac{7}{5} + \\frac{1}{5} i.", "\\frac{7}{5} + \\frac{1}{5} i.")[1]


def test_the_gold_fix_never_turns_a_reference_verdict_from_right_to_wrong():
    gold = "\\frac{7}{5} + \\frac{1}{5} i."
    # right under the reference (one '.' stripped from the prediction, then equal to the gold)
    assert paper_verdict("math", "The answer is: \\frac{7}{5} + \\frac{1}{5} i..", gold)[1]
    assert paper_verdict("math", "The answer is: \\frac{7}{5} + \\frac{1}{5} i.\\text{ cm}", gold)[1]
    # and what only the fix reaches
    assert paper_verdict("math", "The answer is: \\frac{7}{5} + \\frac{1}{5} i", gold)[1]
