"""The `strict` scorer: math-verify symbolic equivalence, no rounding, several answer markers.

math-verify bounds each parse and comparison with `signal.alarm`, which only works on a
process's main thread. Off the main thread (Ray actors, thread pools) we pass its
documented `parsing_timeout=None` / `timeout_seconds=None` and bound the work ourselves by
refusing answers longer than MAX_ANSWER_CHARS, which is where pathological inputs live.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from metamath.data.ood import THOUSANDS, WORD_PROBLEMS
from metamath.scoring.extract import strict_answer_text

MAX_ANSWER_CHARS = 400
TIMEOUT_S = 5
_CONFIGS = (LatexExtractionConfig(), ExprExtractionConfig())
# Where a gold is a plain number: thousands commas go, and a number followed by a unit counts.
NUMERIC_ANSWERS = frozenset({"gsm8k", "gsm8k_backward", *WORD_PROBLEMS})
_LEADING_NUMBER = re.compile(r"^\\?\$?\s*(-?\d*\.?\d+)(?:\s+[A-Za-z]|\s*$)")


def _timeout() -> int | None:
    return TIMEOUT_S if threading.current_thread() is threading.main_thread() else None


def _parse(text: str) -> list:
    try:
        return parse(text, extraction_config=list(_CONFIGS), parsing_timeout=_timeout())
    except Exception:  # a timeout or parser failure means "no answer", never a crash
        return []


@lru_cache(maxsize=16384)
def _parsed_gold(gold: str) -> tuple:
    wrapped = gold if "$" in gold else f"${gold}$"
    return tuple(_parse(wrapped) or _parse(gold))


def _parsed_prediction(answer: str) -> list:
    if "$" in answer:
        return _parse(answer)
    return _parse(f"${answer}$") or _parse(answer)


def _plain(text: str) -> str:
    """Text answers ('Monday', '(C)'): compare without LaTeX wrappers, case or spacing."""
    text = re.sub(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}", r"\1", text)
    return re.sub(r"[\s$.]", "", text).lower()


def _verifies(gold: list, predicted: list) -> bool:
    if not predicted:
        return False
    try:
        return bool(verify(gold, predicted, timeout_seconds=_timeout()))
    except Exception:
        return False


def strict_verdict(benchmark: str, completion: str, gold: str) -> tuple[str | None, bool]:
    """(extracted answer, correct) by math-verify, with a text-equality fallback."""
    answer = strict_answer_text(completion)
    return answer, equivalent(benchmark, answer, gold)


def equivalent(benchmark: str, answer: str | None, gold: str) -> bool:
    """Is an already extracted `answer` equal to `gold` under the strict rules?"""
    if answer is None or len(answer) > MAX_ANSWER_CHARS:
        return False
    if answer.strip() == gold.strip():
        return True  # equal text is equal under any checker; math-verify costs ~1 ms a call
    if benchmark in NUMERIC_ANSWERS:
        answer = THOUSANDS.sub("", answer)
    candidates = [answer]
    if benchmark in NUMERIC_ANSWERS:
        lead = _LEADING_NUMBER.match(answer)  # "18 dollars" -> 18 (units, not rounding)
        if lead:
            candidates.append(lead.group(1))
    gold_parsed = list(_parsed_gold(gold))
    for candidate in candidates:
        if gold_parsed and _verifies(gold_parsed, _parsed_prediction(candidate)):
            return True
    return bool(_plain(answer)) and _plain(answer) == _plain(gold)
