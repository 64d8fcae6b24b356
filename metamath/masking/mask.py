"""Mask one number of a question as the unknown: GSM8K `x`, MATH `$X$`.

Every eligible number is a candidate (the reference enumerates all); callers sample.
Eligibility follows the reference's token rules by default (`MaskingConfig`: a digit token
with no letter, hyphen or bracket; a number word alone and lower-case), plus our fixes: the
question has no variable of that name already; the value occurs once in the question (a
repeated value would give x away); MATH numbers only outside LaTeX math, and the result
must keep `$` balanced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from metamath.config.schema import MaskingConfig
from metamath.latex import math_spans
from metamath.masking.numbers import NumberSpan, find_numbers, is_compound_token, reference_token_replacement, token_bounds

REFERENCE_RULES = MaskingConfig()


@dataclass(frozen=True)
class MaskedQuestion:
    question: str  # the original
    masked: str  # with the number replaced
    value: str  # the gold value of the unknown
    variable: str  # "x" or "X"
    start: int
    end: int  # span of the number in the original


def _has_variable(text: str, variable: str) -> bool:
    return re.search(rf"(?<![A-Za-z\\]){variable}(?![A-Za-z])", text) is not None


def _unique_values(spans: list[NumberSpan]) -> list[NumberSpan]:
    counts: dict[str, int] = {}
    for span in spans:
        counts[span.value] = counts.get(span.value, 0) + 1
    return [span for span in spans if counts[span.value] == 1]


def _replace(question: str, span: NumberSpan, start: int, end: int, replacement: str, variable: str) -> MaskedQuestion:
    masked = question[:start] + replacement + question[end:]
    return MaskedQuestion(question, masked, span.value, variable, start, end)


def _eligible(question: str, span: NumberSpan, rules: MaskingConfig) -> bool:
    """The reference's token rules, each relaxed by its own key."""
    left, right = token_bounds(question, span.start, span.end)
    token = question[left:right]
    if span.kind == "digits":
        return rules.numbers_in_compounds or not is_compound_token(token)
    alone = rules.number_words_with_punctuation or token == span.text
    return alone and (rules.capitalised_number_words or span.text.islower())


def _gsm8k_mask(question: str, span: NumberSpan, rules: MaskingConfig) -> MaskedQuestion:
    left, right = token_bounds(question, span.start, span.end)
    # A compound token ("120-page", reachable only through its key) keeps its letters.
    if span.kind != "digits" or rules.keep_token_affixes or is_compound_token(question[left:right]):
        return _replace(question, span, span.start, span.end, "x%" if span.kind == "half" else "x", "x")
    return _replace(question, span, left, right, reference_token_replacement(question[left:right], "x"), "x")


def gsm8k_masks(question: str, rules: MaskingConfig = REFERENCE_RULES) -> list[MaskedQuestion]:
    """All single-number maskings of a GSM8K question with `x` ('$5' -> '$x', '20%' -> 'x%')."""
    if _has_variable(question, "x"):
        return []
    spans = [s for s in _unique_values(find_numbers(question)) if _eligible(question, s, rules)]
    return [_gsm8k_mask(question, span, rules) for span in spans]


def math_masks(question: str, rules: MaskingConfig = REFERENCE_RULES) -> list[MaskedQuestion]:
    """All single-number maskings of a MATH question with `$X$`, numbers outside math only."""
    spans = _protected_spans(question)
    if spans is None or _has_variable(question, "X"):
        return []
    inside = lambda s: any(a <= s.start < b for a, b in spans)  # noqa: E731
    candidates = [s for s in find_numbers(question, words=False) if not inside(s)]
    out = []
    for span in _unique_values(candidates):
        if not _eligible(question, span, rules):
            continue
        masked = _replace(question, span, span.start, span.end, "$X$", "X")
        if math_spans(masked.masked) is not None:
            out.append(masked)
    return out


# Tables, figures and Asymptote code hold numbers that are not quantities of the problem.
_BLOCK_RE = re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}|\[asy\].*?\[/asy\]", re.S)


def _protected_spans(question: str) -> list[tuple[int, int]] | None:
    spans = math_spans(question)
    if spans is None:
        return None
    return spans + [m.span() for m in _BLOCK_RE.finditer(question)]


_PLAIN_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def is_plain_number(answer: str) -> bool:
    """SV and FOBAR on MATH need a plain numeric final answer to state."""
    return _PLAIN_NUMBER.match(answer.strip().replace(",", "")) is not None


def mask_candidates(dataset: str, question: str, rules: MaskingConfig = REFERENCE_RULES) -> list[MaskedQuestion]:
    return gsm8k_masks(question, rules) if dataset == "gsm8k" else math_masks(question, rules)
