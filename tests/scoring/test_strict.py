import threading

import pytest

from metamath.scoring.strict import strict_verdict


@pytest.mark.parametrize(
    "benchmark,completion,gold,ok",
    [
        ("gsm8k", "The answer is: 8.6", "9", False),  # no rounding under strict
        ("gsm8k", "The answer is 1,234,567.", "1234567", True),
        ("gsm8k", "#### -3", "-3", True),
        ("gsm8k", "The answer is: $18.00", "18", True),
        ("gsm8k", "The answer is 18 dollars", "18", True),
        ("math", "The answer is: 0.5", "\\frac{1}{2}", True),
        ("math", "The answer is: 0.25", "\\frac{1}{4}", True),
        ("math", "So $\\boxed{\\dfrac{\\sqrt 2}{2}}$", "\\frac{\\sqrt{2}}{2}", True),
        ("math", "The answer is: (2, 5]", "(2,5]", True),
        ("math", "The answer is: [2, 5)", "(2,5]", False),
        ("math", "The answer is: Monday", "\\text{Monday}", True),
        ("math", "The answer is: (C)", "\\text{(C)}", True),
        ("math", "The answer is: 2x + x^2", "x^2+2x", True),
        ("math", "I could not solve it.", "5", False),
        ("gsm8k_backward", "The value of x is 12.", "12", True),
    ],
)
def test_equivalence(benchmark, completion, gold, ok):
    assert strict_verdict(benchmark, completion, gold)[1] is ok


def test_works_off_the_main_thread():
    """math-verify's signal timeouts fail off the main thread; ours must not."""
    results = []
    thread = threading.Thread(target=lambda: results.append(strict_verdict("math", "The answer is: 0.5", "\\frac12")))
    thread.start()
    thread.join()
    assert results == [("0.5", True)]


def test_huge_answers_are_refused_not_parsed():
    answer, ok = strict_verdict("math", "The answer is: " + "(1+" * 300 + "1" + ")" * 300, "1")
    assert not ok and answer is not None
