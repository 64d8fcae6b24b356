"""The paper scorer's fractions against the reference's own output
(tests/fixtures/reference/gsm8k_fractions.json: eval_gsm8k.extract_answer_number with the PyPI
`fraction` package it imports, on 3,000 fractions with 16-20 digit numerators and edge cases)."""

import json
import sys
from pathlib import Path

from metamath.scoring.paper import paper_number

ORACLE = Path(__file__).parents[1] / "fixtures" / "reference" / "gsm8k_fractions.json"


def test_every_fraction_reads_as_the_reference_reads_it():
    items = json.loads(ORACLE.read_text())["items"]
    assert len(items) > 3000
    wrong = [(f, want, paper_number(f"The answer is: {f}")) for f, want in items
             if paper_number(f"The answer is: {f}") != want]
    assert wrong == []


def test_the_issue_s_example_and_no_fraction_package_at_run_time():
    assert paper_number("The answer is: 661104262478116307/663853") == 995859418393
    assert "fraction" not in sys.modules
