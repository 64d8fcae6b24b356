"""DROP EM/F1 against the expectations of the official evaluation's own tests
(allenai/allennlp-reading-comprehension, tests/eval/drop_eval_test.py)."""

import pytest

from metamath.data.ood import split_alternatives
from metamath.scoring.drop import best_drop_metrics, drop_metrics, normalise_span


def test_numbers_and_punctuation_normalise_as_the_official_script():
    assert normalise_span("12.0") == normalise_span("12.0  ") == normalise_span("12.000") == normalise_span("12")
    assert normalise_span("12.0") == normalise_span("  1.2e1  ")
    assert normalise_span("12.0 persons") == "12.0 persons" and normalise_span("S.K. Singh") == "sk singh"


@pytest.mark.parametrize("predicted, gold, expected", [
    (["78"], ["78.0"], (1.0, 1.0)),
    (["td"], ["td", "td"], (0.0, 0.5)),
    ("td", ["td", "td"], (0.0, 0.5)),
    (["td", "td"], "td", (0.0, 0.5)),
    (["the", "fat", "cat", "the fat", "fat cat", "the fat cat"], ["cat"], (0.0, 0.17)),
    (["cat"], ["the", "fat", "cat", "the fat", "fat cat", "the fat cat"], (0.0, 0.17)),
    (["the", "fat", "cat", "the fat", "fat cat", "the fat cat"], ["cat", "cat dog"], (0.0, 0.25)),
    (["td"], ["the td"], (1.0, 1.0)),
    (["the a NOT an ARTICLE the an a"], ["NOT ARTICLE"], (1.0, 1.0)),
    (["John Elton"], ["Elton John"], (0.0, 1.0)),
    (["order word right"], ["right word order"], (0.0, 1.0)),
    (["Per.i.o.d...."], [".P....e.r,,i;;;o...d,,"], (1.0, 1.0)),
    (["Spa     c  e   s     "], ["    Spa c     e s"], (1.0, 1.0)),
    (["78-yard"], ["78 yard"], (1.0, 1.0)),
    (["78"], ["78-yard"], (0.0, 0.67)),
    (["78-yard"], ["78"], (0.0, 0.67)),
    (["This was a triumph"], ["tHIS Was A TRIUMPH"], (1.0, 1.0)),
    (["Green bay", "packers"], ["Green bay", "packers"], (1.0, 1.0)),
    ([""], ["army"], (0.0, 0.0)),
    (["packers"], ["Green bay packers"], (0.0, 0.5)),
    (["packers"], ["Green bay"], (0.0, 0.0)),
    (["yard"], ["36 yard td"], (0.0, 0.0)),     # the gold's number is missing: no credit
    (["23 yards"], ["43 yards"], (0.0, 0.0)),
    (["56 yards"], ["56 yd"], (0.0, 0.5)),
    (["26"], ["26 yard td"], (0.0, 0.5)),
    (["78-yard", "56", "28", "40", "44", "touchdown"], ["78-yard", "56 yard", "1 yard touchdown"], (0.0, 0.28)),
    (["23", "23 yard"], ["23-yard", "56 yards"], (0.0, 0.5)),   # one-to-one alignment
    (["John Karman", "Joe Hardy"], ["Joe Karman", "John Hardy"], (0.0, 0.5)),
    (["ottoman", "Kantakouzenous"], ["ottoman", "army of Kantakouzenous"], (0.0, 0.75)),
    (["b"], ["a", "b"], (0.0, 0.5)),
])
def test_official_expectations(predicted, gold, expected):
    assert drop_metrics(predicted, gold) == expected


def test_alternatives_take_the_best_of_each_metric():
    # the official functional tests: a number gold with a validated alternative
    assert best_drop_metrics("1", ["1", "0"]) == (1.0, 1.0)
    assert best_drop_metrics("17 August", ["17 August", "August", "17"]) == (1.0, 1.0)
    assert best_drop_metrics("span1", [["span1", "span2"], ["span2"]]) == (0.0, 0.5)
    assert best_drop_metrics("answer", ["answer1", "answer2"]) == (0.0, 0.0)
    assert best_drop_metrics("x", ["", "  "]) == (0.0, 0.0)
    assert split_alternatives("  2015|2015 | ") == ["2015", "2015"]
