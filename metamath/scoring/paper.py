"""The `paper` scorer: MetaMath's reference evaluation rules, reproduced on purpose.

GSM8K (and GSM8K-Backward, which has no official scorer): the first number after the last
'The answer is: ', fractions evaluated, rounded with Python's `round` (half to even, so
8.5 -> 8 and 9.5 -> 10, as in the reference), compared with the gold as floats. The
number regex misreads '1,234,567' as 1234; kept, since the paper's numbers include it.
MATH: the text after the marker up to the first '.\\n', one trailing '.' removed, then
Hendrycks normalisation and exact string equality.

One deliberate fix: the reference strips a trailing '.' from the prediction but not from the
gold, so a gold that ends in '.' (MATH test/intermediate_algebra/1289) could never match.
We also compare with the gold without its '.', only when the reference's own comparison fails:
every verdict the reference gives as correct stays correct ('...i..' against '...i.'), and this
can only raise MATH accuracy, by at most 1 in 5,000.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from metamath.scoring.extract import after_last_paper_marker
from metamath.scoring.hendrycks import is_equiv

_NUMBER = re.compile(r"[\-+]?\d*[\.,/]?\d+")


def is_number(text: str) -> bool:
    """float() accepts it (as the reference scorers test numbers)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fraction_value(token: str) -> float | None:
    numerator, denominator = token.split("/", 1)
    if not (is_number(numerator) and is_number(denominator)):
        return None
    if denominator == "0":
        return float(numerator.replace(",", ""))
    frac = Fraction(token.replace(",", ""))
    return float(frac.numerator / frac.denominator)


def paper_value(completion: str) -> float | None:
    """The number the reference GSM8K scorer reads from `completion`, before its rounding."""
    tail = after_last_paper_marker(completion)
    if tail is None:
        return None
    match = _NUMBER.search(tail.strip())
    if not match:
        return None
    token = match.group(0)
    value = _fraction_value(token) if "/" in token else float(token.replace(",", ""))
    return None if value is None or math.isinf(value) or math.isnan(value) else value


def paper_number(completion: str) -> int | None:
    """The integer the reference GSM8K scorer reads from `completion`, or None."""
    value = paper_value(completion)
    return None if value is None else round(value)


def paper_math_answer(completion: str) -> str | None:
    tail = after_last_paper_marker(completion)
    if tail is None:
        return None
    answer = tail.split(".\n")[0].strip()
    if answer.endswith("."):
        answer = answer[:-1]
    return answer.strip()


def paper_verdict(benchmark: str, completion: str, gold: str) -> tuple[str | None, bool]:
    """(extracted answer, correct) under the reference rules."""
    if benchmark in ("gsm8k", "gsm8k_backward"):
        number = paper_number(completion)
        if number is None:
            return None, False
        return str(number), float(number) == float(gold.replace(",", ""))
    answer = paper_math_answer(completion)
    if answer is None:
        return None, False
    gold = gold.strip()
    # The reference's verdict, plus one match it could never make: a gold ending in '.'.
    return answer, is_equiv(answer, gold) or (gold.endswith(".") and is_equiv(answer, gold[:-1]))
