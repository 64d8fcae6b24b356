"""Both scorers on the out-of-distribution benchmarks (metamath/data/ood.py).

Word problems (SVAMP, ASDiv, MAWPS, GSM-Hard, TabMWP), `paper`: the GSM8K rule of the
reference (the first number after the last 'The answer is: ', rounded, compared as a float)
for an integer gold; the same number unrounded within a relative 1e-4 (the tolerance of the
math-evaluation-harness these files come from) for a non-integer gold, since rounding could
never match 0.6666666667; and the MATH rule (Hendrycks normalisation, string equality) for a
text gold ('Mrs. Hilt', '3:4', 'yes', '3/10'). `strict`: math-verify, as on GSM8K.

DROP: the answer each scorer extracts is judged by the official DROP exact match and F1, the
best over the gold alternatives ('|'-joined in the gold); a right verdict is an exact match.
"""

from __future__ import annotations

import math

from metamath.data.ood import split_alternatives
from metamath.scoring.drop import best_drop_metrics
from metamath.scoring.extract import strict_answer_text
from metamath.scoring.hendrycks import is_equiv
from metamath.scoring.paper import is_number, paper_math_answer, paper_value, paper_verdict

RELATIVE_TOLERANCE = 1e-4


def numeric_gold(gold: str) -> float | None:
    text = gold.strip()
    return float(text) if is_number(text) and math.isfinite(float(text)) else None


def paper_word_problem(completion: str, gold: str) -> tuple[str | None, bool]:
    """(extracted answer, correct) under the paper's rules, extended to non-integer golds."""
    target = numeric_gold(gold)
    if target is None:
        return paper_verdict("math", completion, gold)
    value = paper_value(completion)
    if value is None:
        return None, False
    if target.is_integer():
        return str(round(value)), round(value) == target
    return format(value, ".12g"), math.isclose(value, target, rel_tol=RELATIVE_TOLERANCE)


def word_answers_agree(a: str, b: str) -> bool:
    """Two answers the paper rule extracted from word problems vote together (maj@k): numbers
    within the tolerance, text under Hendrycks normalisation."""
    x, y = numeric_gold(a), numeric_gold(b)
    if x is not None and y is not None:
        return math.isclose(x, y, rel_tol=RELATIVE_TOLERANCE)
    return is_equiv(a, b)


def drop_verdict(answer: str | None, gold: str) -> tuple[bool, float]:
    """(exact match, F1) of an extracted answer against the '|'-joined alternatives."""
    if answer is None or not answer.strip():
        return False, 0.0
    exact, f1 = best_drop_metrics(answer, split_alternatives(gold))
    return exact == 1.0, f1


def drop_answers(completion: str) -> tuple[str | None, str | None]:
    """The (paper, strict) answers of a DROP completion."""
    return paper_math_answer(completion), strict_answer_text(completion)
