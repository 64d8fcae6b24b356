"""Backward questions from a masked question: FOBAR (template) and SV (teacher rewrite)."""

from __future__ import annotations

import re

from metamath.masking.numbers import numeric_values_in

FOBAR_SUFFIX = "If we know the answer to the above question is {answer}, what is the value of unknown variable {var}?"
SV_SUFFIX = "What is the value of unknown variable {var}?"

_ABBREVIATIONS = ("Mr.", "Mrs.", "Ms.", "Dr.", "St.", "Jr.", "Sr.", "vs.", "etc.", "e.g.", "i.e.", "a.m.", "p.m.")
_SENTENCE_END = re.compile(r"(?<=[.?!])[\"')\]]*\s+")


def fobar_query(masked: str, answer: str, variable: str, form: str = "plain") -> str:
    """The FOBAR question: masked question, newline, the stated answer, ask for the unknown.
    `form="reference"` is what the reference code writes for MATH: '### ' before the sentence
    and the variable in dollars ('... unknown variable $X$?'). The masked question is kept as
    it is, a trailing newline included, as the reference writes it."""
    if form == "reference":
        return f"{masked}\n### " + FOBAR_SUFFIX.format(answer=answer, var=f"${variable}$")
    return f"{masked}\n" + FOBAR_SUFFIX.format(answer=answer, var=variable)


def fobar_form(dataset: str, math_form: str = "reference") -> str:
    """GSM8K always takes the plain form; MATH the reference's unless configured otherwise."""
    return math_form if dataset == "math" else "plain"


def _protected(text: str) -> list[tuple[int, int]]:
    from metamath.latex import math_spans

    return math_spans(text) or []


def split_question_sentence(question: str) -> tuple[str, str]:
    """(body, question sentence). The question sentence is the last sentence, whether it
    ends in '?' or is an imperative ending in '.' ('Find the total.'); never empty."""
    text = question.strip()
    protected = _protected(text)
    cut = 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() >= len(text):
            break
        if any(a <= match.start() < b for a, b in protected):
            continue
        if text[: match.start()].endswith(_ABBREVIATIONS):
            continue
        cut = match.end()
    return text[:cut].strip(), text[cut:].strip()


def sv_rewrite_input(question_sentence: str, answer: str) -> str:
    """What the teacher turns into one declarative statement."""
    return f"{question_sentence} The answer is {answer}."


def sv_query(body: str, statement: str, variable: str) -> str:
    parts = [p for p in (body.strip(), statement.strip(), SV_SUFFIX.format(var=variable)) if p]
    return " ".join(parts)


def sv_rejection(query: str, statement: str, masked_value: str, answer: str, variable: str) -> str | None:
    """Why an SV query is unusable, or None. The reference's empty-clause defect produced
    queries that still state the masked value; those are rejected here."""
    if not statement.strip():
        return "empty_statement"
    if masked_value == answer:
        return "masked_value_equals_answer"  # the statement would have to give x away
    if masked_value in numeric_values_in(query):
        return "states_masked_value"
    if answer not in numeric_values_in(statement) and answer not in statement:
        return "statement_lacks_answer"
    unknown = re.compile(rf"(?<![A-Za-z]){variable}(?![A-Za-z])")
    if not unknown.search(query.replace(SV_SUFFIX.format(var=variable), "")):
        return "no_unknown_left"
    return None
