"""maj@k / pass@k from sampled completions: per-item metrics on crafted samples (the whole path,
k samples per item through the store, scored and summarised, is in tests/evaluate/test_job.py's
scripted-server test)."""

import pytest

from metamath.config.schema import EvaluateConfig
from metamath.evaluate.sampling import item_metrics


def _rows(answers, correct, scorer_answers=None):
    strict = scorer_answers or answers
    return [{"paper_answer": a, "paper_correct": c, "strict_answer": s, "strict_correct": c}
            for a, c, s in zip(answers, correct, strict)]


def test_item_metrics_vote_under_each_scorers_equality():
    rows = _rows(["17", "18", "18", None], [False, True, True, False], ["17", "18.0", "18", None])
    found = item_metrics("gsm8k", rows, 4)
    assert found["paper"] == {"maj@4": 1.0, "pass@4": 1.0, "pass@1": 0.5}
    assert found["strict"]["maj@4"] == 1.0  # "18.0" and "18" vote together under math-verify


def test_a_tie_goes_to_the_first_answer_and_missing_samples_are_wrong():
    found = item_metrics("gsm8k", _rows(["17", "18"], [False, True]), 4)  # two of four came back
    assert found["paper"]["maj@4"] == 0.0 and found["paper"]["pass@1"] == 0.25
    assert found["paper"]["pass@4"] == 1.0


def test_math_answers_vote_by_hendrycks_equivalence_under_the_paper_scorer():
    rows = _rows(["1/2", "\\frac{1}{2}", "2", "3"], [True, True, False, False])
    found = item_metrics("math", rows, 4)
    assert found["paper"]["maj@4"] == 1.0 and found["paper"]["pass@1"] == 0.5
    assert item_metrics("math", rows[2:] + rows[:2], 4)["paper"]["maj@4"] == 1.0  # two "1/2" votes beat "2", "3"


def test_drop_answers_vote_by_normalised_span():
    rows = _rows(["The Bears", "bears", "Lions"], [True, True, False])
    assert item_metrics("drop", rows, 3)["strict"]["maj@3"] == 1.0


def test_temperature_must_be_positive_for_sampling():
    with pytest.raises(ValueError):
        EvaluateConfig(samples=4, temperature=0.0)
