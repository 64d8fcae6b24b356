import pytest

from metamath.scoring.uncertainty import mcnemar_exact, paired_bootstrap, paired_difference, wilson_interval


@pytest.mark.parametrize("correct, n, low, high", [
    (8, 10, 0.4902, 0.9433),     # textbook Wilson 95%
    (0, 10, 0.0, 0.2775),        # sound at 0/n, where Wald collapses to [0, 0]
    (10, 10, 0.7225, 1.0),
    (50, 100, 0.4038, 0.5962),
])
def test_wilson_interval_known_values(correct, n, low, high):
    lo, hi = wilson_interval(correct, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_of_nothing_is_empty():
    assert wilson_interval(0, 0) == (0.0, 0.0)


@pytest.mark.parametrize("only_a, only_b, p", [
    (1, 9, 0.021484375),    # 2 * (1 + 10) / 2**10
    (9, 1, 0.021484375),    # symmetric
    (5, 5, 1.0),
    (0, 0, 1.0),
    (0, 6, 0.03125),        # 2 / 2**6
    (3, 12, 0.03515625),    # 2 * (1 + 15 + 105 + 455) / 2**15
])
def test_mcnemar_exact_known_values(only_a, only_b, p):
    assert mcnemar_exact(only_a, only_b) == pytest.approx(p, rel=1e-9)


def test_paired_bootstrap_brackets_the_difference_and_is_seeded():
    a = [True] * 30 + [False] * 70
    b = [True] * 30 + [True] * 20 + [False] * 50   # +20 points, all on items A missed
    lo, hi = paired_bootstrap(a, b)
    assert lo < 0.2 < hi and lo > 0.1 and hi < 0.3
    assert paired_bootstrap(a, b) == (lo, hi)
    assert paired_bootstrap(a, a) == (0.0, 0.0)
    assert paired_bootstrap([True] * 40, [False] * 40) == (-1.0, -1.0)


def test_paired_difference_counts_discordant_items_and_tests_them():
    a = [True, True, False, False, True, False, False, False, False, False]
    b = [True, False, True, True, True, True, True, True, True, True]
    diff = paired_difference(a, b, resamples=2000)
    assert (diff.n, diff.only_a, diff.only_b) == (10, 1, 7)
    assert diff.accuracy_a == 0.3 and diff.accuracy_b == 0.9 and diff.difference == pytest.approx(0.6)
    # +60 points on 10 items, yet 1 against 7 discordant items is not significant at 5%
    assert diff.mcnemar_p == pytest.approx(2 * 9 / 256) and not diff.significant
    assert diff.to_dict()["significant"] is False and len(diff.to_dict()["ci95"]) == 2
    with pytest.raises(ValueError, match="same items"):
        paired_difference([True], [True, False])
