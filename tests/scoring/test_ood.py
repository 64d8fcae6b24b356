"""Both scorers on the out-of-distribution sets: every real row's gold, written as a solution,
scores 1.0 under both; a wrong number or text scores 0; the tolerance rules hold."""

import pytest

from metamath.data import load_benchmark
from metamath.data.ood import OOD_BENCHMARKS
from metamath.scoring.ood import paper_word_problem
from metamath.scoring.verdicts import score_batch, score_one


def _wrong(gold: str) -> str:
    try:
        return str(float(gold) * 3 + 101)  # outside any tolerance or rounding, for any gold not near -50.5
    except ValueError:
        return "zebra crossing"


@pytest.mark.parametrize("name", OOD_BENCHMARKS)
def test_the_gold_solution_of_every_real_row_scores_one(data_root, name):
    problems = load_benchmark(name).problems
    pairs = [(f"{p.solution}\nThe answer is: {p.gold.split('|')[0]}", p.gold) for p in problems]
    verdicts = score_batch(name, pairs)
    assert sum(v.paper_correct for v in verdicts) == len(problems)
    assert sum(v.strict_correct for v in verdicts) == len(problems)
    wrong = score_batch(name, [(f"The answer is: {_wrong(p.gold.split('|')[0])}", p.gold) for p in problems[:300]])
    assert not any(v.paper_correct or v.strict_correct for v in wrong)


def test_paper_rule_rounds_for_integer_golds_and_uses_a_tolerance_otherwise():
    assert paper_word_problem("The answer is: 17.6", "18") == ("18", True)  # the reference's rounding
    assert paper_word_problem("The answer is: 0.6667", "0.6666666667")[1]
    assert not paper_word_problem("The answer is: 0.67", "0.6666666667")[1]
    assert paper_word_problem("The answer is: 3244047.1", "3244047.1")[1]
    assert paper_word_problem("The answer is: Mrs. Hilt.", "Mrs. Hilt") == ("Mrs. Hilt", True)
    assert paper_word_problem("no marker 18", "18") == (None, False)


def test_strict_accepts_equivalent_forms_the_paper_rule_does_not():
    assert score_one("mawps", "The answer is: 2/3", "0.6666666667").paper_correct  # the fraction's value
    verdict = score_one("mawps", "each gets $\\frac{2}{3}$. The answer is: $\\frac{2}{3}$", "0.6666666667")
    assert verdict.strict_correct and not verdict.paper_correct  # the paper rule reads the first digit, 2
    verdict = score_one("tabmwp", "The answer is: $4,656", "4656")
    assert verdict.strict_correct and verdict.paper_correct


def test_drop_verdicts_are_exact_match_with_f1():
    verdict = score_one("drop", "The answer is: The 25-to-44.", "under 18|25 to 44")
    assert verdict.paper_correct and verdict.paper_f1 == 1.0
    partial = score_one("drop", "The answer is: 25 to 44 and 45 to 64", "25 to 44")
    assert not partial.paper_correct and 0 < partial.paper_f1 < 1 and partial.strict_f1 == partial.paper_f1
    assert score_one("drop", "no answer here", "7").paper_f1 == 0.0
