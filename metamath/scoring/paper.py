"""The `paper` scorer: MetaMath's reference evaluation rules, reproduced on purpose.

GSM8K (and GSM8K-Backward, which has no official scorer): the first number after the last
'The answer is: ', fractions evaluated with the arithmetic of the `fraction` package the
reference imports (reproduced here, not imported), rounded with Python's `round` (half to even, so
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


def _package_fraction(number: str) -> tuple[int, int]:
    """`Fraction(str)` of the PyPI `fraction` package (2.2.0) that the reference imports: the
    number goes through float, then str, and counts its decimal places from that text
    ('6.611042624781163e+17' has 19), so large numerators lose digits."""
    value = float(number)
    text = str(value)
    places = len(text[text.find(".") + 1 :])
    return int(round(value * (10**places))), 10**places


def _package_gcd(a: int, b: int) -> int:
    while b != 0:
        a, b = b, a % b
    return a


def _fraction_value(token: str) -> float | None:
    """N/D as the reference reads it: `fraction.Fraction(N/D)`, whose division multiplies by the
    reciprocal and reduces with true division (`int(n / gcd)`), then `float(n / d)`."""
    numerator, denominator = token.split("/", 1)
    if not (is_number(numerator) and is_number(denominator)):
        return None
    if denominator == "0":
        return float(numerator.replace(",", ""))
    (a_n, a_d), (b_n, b_d) = _package_fraction(numerator), _package_fraction(denominator)
    if b_n == 0:
        raise ZeroDivisionError(f"{token}: denominator is zero")  # the package raises here too
    n, d = a_n * b_d, a_d * b_n
    g = _package_gcd(n, d)
    return float(int(n / g) / int(d / g))


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
