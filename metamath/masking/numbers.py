"""Numbers in question text: where they are and what value they have."""

from __future__ import annotations

import re
from dataclasses import dataclass

# "1,234.5", "12", "0.75", ".5"; not part of a word ("2nd", "x2"), a time ("3:30"),
# a fraction ("1/2"), a version or date ("1.2.3", "3-4") or a longer number.
NUMBER_RE = re.compile(
    r"(?<![\w.,:/\\-])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?![\w/:]|[.,]\d|-\d)"
)

# The reference's words less "one" (a pronoun far more often than a count) and "fifth" (which
# it reads as 5, not 1/5): both left out on purpose.
NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "sixteen": 16,
}
# Not inside a hyphenated word ("one-half", "half-hour", "five-year-old"): the reference splits
# on spaces and never masks those tokens.
NUMBER_WORD_RE = re.compile(r"(?<![\w-])(" + "|".join(NUMBER_WORDS) + r")(?![\w-])", re.I)
HALF_RE = re.compile(r"(?<![\w-])half(?![\w-])", re.I)


# The reference splits a question on ' ' and skips a token with a digit when it also holds a
# letter or any of these (its regex `[\\n:\(\)-*\"+–-]`: newline : ( ) * " + – -).
_COMPOUND_TOKEN = re.compile(r'[a-zA-Z\n:()*"+–-]')
# A token ending in one of these keeps what follows its last digit ("5%" -> "x%", "$5." -> "x.").
_REFERENCE_TRAILING = (",", ".", "?", ";", "”", "'", "!", '"', "%")


def token_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The space-separated token (the reference splits on ' ' only) around text[start:end]."""
    right = text.find(" ", end)
    return text.rfind(" ", 0, start) + 1, len(text) if right < 0 else right


def is_compound_token(token: str) -> bool:
    return _COMPOUND_TOKEN.search(token) is not None


def reference_token_replacement(token: str, variable: str) -> str:
    """What the reference writes for a masked digit token (`replace_number_x`)."""
    if token.endswith(_REFERENCE_TRAILING):
        last_digit = max((i for i, c in enumerate(token) if c in "0123456789"), default=len(token) - 1)
        return variable + token[last_digit + 1 :]
    return "$" + variable if token.startswith("$") else variable


def canonical(value: float) -> str:
    """12.0 -> '12', 2.50 -> '2.5'."""
    if value == int(value):
        return str(int(value))
    return repr(value).rstrip("0").rstrip(".")


def numeric_value(token: str) -> float:
    return float(token.replace(",", ""))


@dataclass(frozen=True)
class NumberSpan:
    start: int
    end: int
    text: str
    value: str  # canonical numeric value
    kind: str  # "digits", "word" or "half"


def find_numbers(text: str, words: bool = True) -> list[NumberSpan]:
    """Every number in `text`, digits and (optionally) number words, in order."""
    spans = [NumberSpan(m.start(), m.end(), m.group(0), canonical(numeric_value(m.group(0))), "digits")
             for m in NUMBER_RE.finditer(text)]
    if words:
        spans += [NumberSpan(m.start(), m.end(), m.group(0), str(NUMBER_WORDS[m.group(0).lower()]), "word")
                  for m in NUMBER_WORD_RE.finditer(text)]
        spans += [NumberSpan(m.start(), m.end(), m.group(0), "50", "half") for m in HALF_RE.finditer(text)]
    return sorted(spans, key=lambda s: s.start)


def numeric_values_in(text: str) -> set[str]:
    """Canonical values of every number the text states, in digits or words."""
    return {span.value for span in find_numbers(text)}
