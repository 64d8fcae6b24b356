"""Mask one number of a question as the unknown: GSM8K `x`, MATH `$X$`.

Every eligible number is a candidate (the reference enumerates all); callers sample.
Eligibility: the question has no variable of that name already; the value occurs once in
the question (a repeated value would give x away); MATH numbers only outside LaTeX math,
and the result must keep `$` balanced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from metamath.latex import math_spans
from metamath.masking.numbers import NumberSpan, find_numbers


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


def _replace(question: str, span: NumberSpan, replacement: str, variable: str) -> MaskedQuestion:
    masked = question[: span.start] + replacement + question[span.end :]
    return MaskedQuestion(question, masked, span.value, variable, span.start, span.end)


def gsm8k_masks(question: str) -> list[MaskedQuestion]:
    """All single-number maskings of a GSM8K question with `x` ('$5' -> '$x', '20%' -> 'x%')."""
    if _has_variable(question, "x"):
        return []
    out = []
    for span in _unique_values(find_numbers(question)):
        replacement = "x%" if span.kind == "half" else "x"
        out.append(_replace(question, span, replacement, "x"))
    return out


def math_masks(question: str) -> list[MaskedQuestion]:
    """All single-number maskings of a MATH question with `$X$`, numbers outside math only."""
    spans = _protected_spans(question)
    if spans is None or _has_variable(question, "X"):
        return []
    inside = lambda s: any(a <= s.start < b for a, b in spans)  # noqa: E731
    candidates = [s for s in find_numbers(question, words=False) if not inside(s)]
    out = []
    for span in _unique_values(candidates):
        masked = _replace(question, span, "$X$", "X")
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


def mask_candidates(dataset: str, question: str) -> list[MaskedQuestion]:
    return gsm8k_masks(question) if dataset == "gsm8k" else math_masks(question)
