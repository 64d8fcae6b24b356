import math

import pytest

from metamath.scoring.sampling import majority_answer, pass_at_k, sample_metrics


def _numeric_same(a: str, b: str) -> bool:
    return float(a) == float(b)


@pytest.mark.parametrize("n, c, k", [(10, 3, 1), (10, 3, 5), (20, 0, 4), (5, 5, 2), (100, 7, 10), (8, 1, 8)])
def test_pass_at_k_equals_the_combinatorial_definition(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12)


def test_pass_at_k_known_values_and_bad_input():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)        # pass@1 is the mean accuracy
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)       # 1 - C(2,2)/C(4,2)
    assert pass_at_k(4, 0, 4) == 0.0 and pass_at_k(4, 1, 4) == 1.0
    with pytest.raises(ValueError, match="pass@k"):
        pass_at_k(3, 1, 4)


def test_majority_counts_equal_answers_together_and_ignores_missing_ones():
    # "4", "4.0" and "4.00" are one answer under a numeric scorer: 3 votes against 2 for "5"
    assert majority_answer(["5", "4", None, "4.0", "5", "4.00", None], _numeric_same) == "4"
    assert majority_answer(["5", "4", "4", "5"], _numeric_same) == "5"   # a tie: the first seen
    assert majority_answer([None, None], _numeric_same) is None
    assert majority_answer(["5", "4", "4", "5"], str.__eq__) == "5"


def test_sample_metrics_on_crafted_samples():
    answers = ["18", "18.0", "20", None, "18"]
    correct = [True, True, False, False, True]
    metrics = sample_metrics(answers, correct, 4, _numeric_same, lambda a: float(a) == 18)
    assert metrics == {"maj@4": 1.0, "pass@4": 1.0}
    wrong_majority = sample_metrics(["7", "7", "18", "7"], [False, False, True, False], 4, _numeric_same,
                                    lambda a: float(a) == 18)
    assert wrong_majority["maj@4"] == 0.0 and wrong_majority["pass@4"] == 1.0
    one = sample_metrics(["7", "18", "7", "7"], [False, True, False, False], 1, _numeric_same, lambda a: float(a) == 18)
    assert one == {"maj@1": 0.0, "pass@1": pytest.approx(0.25)}
    with pytest.raises(ValueError):
        sample_metrics(["1"], [True], 2, _numeric_same, lambda a: True)
