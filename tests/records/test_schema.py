import pytest

from metamath.records import MetaMathQARecord, finalize_response, record_type


def test_gsm_response_ends_with_hashes_then_answer_line():
    reasoning = "She has 3 + 4 = 7 apples.\nThe answer is 7."
    assert finalize_response("gsm8k", reasoning, "7") == "She has 3 + 4 = 7 apples.\n#### 7\nThe answer is: 7"


def test_math_response_keeps_boxed_and_ends_with_answer_line():
    reasoning = "So the sum is $\\boxed{\\frac{1}{2}}$.\nThe answer is: \\frac{1}{2}"
    assert finalize_response("math", reasoning, "\\frac{1}{2}") == (
        "So the sum is $\\boxed{\\frac{1}{2}}$.\nThe answer is: \\frac{1}{2}"
    )


def test_backward_keeps_value_sentence():
    reasoning = "The answer is 10, so 2x = 10 and x = 5. The value of x is 5."
    assert finalize_response("gsm8k", reasoning, "5", backward=True) == reasoning + "\n#### 5\nThe answer is: 5"


def test_types():
    assert record_type("gsm8k", "rephrase") == "GSM_Rephrased" and record_type("math", "fobar") == "MATH_FOBAR"
    with pytest.raises(ValueError, match="not one of"):
        MetaMathQARecord("q", "r", "GSM_Other", "q")


def test_every_trailing_answer_line_is_replaced():
    reasoning = "22 + 21 = 43.\nThe answer is: 26x + 21 = 22x\nThe answer is: 22 + 21 = 43"
    assert finalize_response("gsm8k", reasoning, "43") == "22 + 21 = 43.\n#### 43\nThe answer is: 43"
