"""Out-of-distribution benchmarks: SVAMP, ASDiv, MAWPS, GSM-Hard, TabMWP and DROP, each read
into the one `Problem` schema with a gold answer the scorers can compare against.

The quirks handled here are the ones `shared/data/README.md` documents:
- ASDiv's answer carries its unit in parentheses ("9 (apples)"): every `(...)` group goes;
- MAWPS and GSM-Hard golds are floats, some with float noise (3244047.0999999996) or rounded
  to 10 places (0.6666666667): written with 12 significant digits, and the scorers compare
  non-integer golds with a relative tolerance;
- TabMWP numbers may carry thousands commas ("4,656"), which go; fractions ("3/10") and text
  answers stay; the question is rendered with its table and, for multiple choice, its options
  (as text, so that the gold, always one of them, is what a right answer says);
- DROP (simple-evals format) holds "Passage: ..\\nQuestion: ..\\nAnswer:" and its gold
  alternatives joined by "|"; the Hub's `ucinlp/drop` rows (passage, question, answers_spans)
  are read too.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

OOD_BENCHMARKS = ("svamp", "asdiv", "mawps", "gsm_hard", "tabmwp", "drop")
# Golds are numbers (or, for ASDiv and TabMWP, sometimes text): the word-problem scoring rules.
WORD_PROBLEMS = ("svamp", "asdiv", "mawps", "gsm_hard", "tabmwp")

_UNIT = re.compile(r"\s*\([^()]*\)")
THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # "4,656"; not "1,2"
_DROP_CONTEXT = re.compile(r"^Passage: (.*)\nQuestion: (.*)\nAnswer:\s*$", re.S)


class RowError(ValueError):
    """A row lacks what its benchmark needs; the message says what (every loader raises it;
    it lives here because benchmarks.py imports this module)."""


def number_text(value: Any) -> str:
    """A numeric gold as text: integers without '.0', others with 12 significant digits, no
    thousands commas."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RowError(f"gold {value!r} is not a number")
    try:
        number = float(THOUSANDS.sub("", str(value)))
    except ValueError:
        raise RowError(f"gold {value!r} is not a number") from None
    if number.is_integer():
        return str(int(number))
    return format(Decimal(format(number, ".12g")), "f")  # 2.0107e-06 -> 0.0000020107, as a model writes it


def _field(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = row.get(name)
        if value is not None and (not isinstance(value, str) or value.strip()):
            return value
    raise RowError(f"missing or empty field {' / '.join(repr(n) for n in names)}")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def svamp(row: dict[str, Any]) -> dict[str, Any]:
    body, question = _field(row, "Body", "body"), _field(row, "Question", "question")
    equation = row.get("Equation") or ""
    return {"question": f"{_sentence(body)} {question.strip()}", "gold": number_text(_field(row, "Answer", "answer")),
            "solution": equation.strip(), "subject": row.get("Type")}


def asdiv_gold(answer: str) -> str:
    """'9 (apples)' -> '9'; '3:30 p.m.' and 'Mrs. Hilt' stay text; '1,000' -> '1000'."""
    gold = _UNIT.sub("", answer).strip()
    try:
        return number_text(gold)
    except RowError:
        return gold


def asdiv(row: dict[str, Any]) -> dict[str, Any]:
    body, question = _field(row, "body", "Body"), _field(row, "question", "Question")
    return {"question": f"{_sentence(body)} {question.strip()}", "gold": asdiv_gold(str(_field(row, "answer", "Answer"))),
            "solution": row.get("formula") or "", "subject": row.get("solution_type")}


def mawps(row: dict[str, Any]) -> dict[str, Any]:
    return {"question": _field(row, "input", "question").strip(), "gold": number_text(_field(row, "target", "answer")),
            "subject": row.get("type")}


def gsm_hard(row: dict[str, Any]) -> dict[str, Any]:
    return {"question": _field(row, "input", "question").strip(), "gold": number_text(_field(row, "target", "answer"))}


def tabmwp_question(row: dict[str, Any]) -> str:
    """PromptPG's layout: the table (titled), the question with its unit, then the options."""
    title, table = row.get("table_title"), _field(row, "table")
    question = _field(row, "question").strip()
    if row.get("unit"):
        question += f" (Unit: {row['unit']})"
    parts = [f"Table: {title}\n{table}" if title else f"Table:\n{table}", f"Question: {question}"]
    if row.get("choices"):  # without PromptPG's (A)/(B) letters: the answer is the option's text
        parts.append("Options: " + "; ".join(str(c) for c in row["choices"]))
    return "\n".join(parts)


def tabmwp_gold(answer: str, ans_type: str | None) -> str:
    if ans_type in ("integer_number", "decimal_number"):
        try:
            return number_text(answer.strip())
        except RowError:
            return answer.strip()  # "3/10": a fraction stays as written
    return answer.strip()


def tabmwp(row: dict[str, Any]) -> dict[str, Any]:
    return {"question": tabmwp_question(row), "gold": tabmwp_gold(str(_field(row, "answer")), row.get("ans_type")),
            "solution": row.get("solution") or "", "subject": row.get("ans_type"), "level": row.get("grade")}


def split_alternatives(ref_text: str) -> list[str]:
    """simple-evals' `ref_text`: DROP's gold alternatives joined by `|`, some with stray spaces
    (here, with the data: the DROP scorer reads the same field and imports it from here)."""
    return [alt.strip() for alt in ref_text.split("|") if alt.strip()]


def drop(row: dict[str, Any]) -> dict[str, Any]:
    if "context" in row:  # simple-evals
        match = _DROP_CONTEXT.match(_field(row, "context"))
        if not match:
            raise RowError("'context' is not 'Passage: ..\\nQuestion: ..\\nAnswer:'")
        passage, question = match.group(1), match.group(2)
        alternatives = split_alternatives(str(_field(row, "ref_text")))
    else:  # the Hub's ucinlp/drop
        passage, question = _field(row, "passage"), _field(row, "question")
        alternatives = [s.strip() for s in (row.get("answers_spans") or {}).get("spans", []) if s.strip()]
    if not alternatives:
        raise RowError("no gold answer")
    return {"question": f"Passage: {passage.strip()}\nQuestion: {question.strip()}", "gold": "|".join(alternatives),
            "solution": alternatives[0]}


OOD_PARSERS = {"svamp": svamp, "asdiv": asdiv, "mawps": mawps, "gsm_hard": gsm_hard, "tabmwp": tabmwp, "drop": drop}
