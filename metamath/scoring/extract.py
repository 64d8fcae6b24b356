"""Find the final answer in a completion. Never evaluates model text: regex and slicing only."""

from __future__ import annotations

import re

from metamath.latex import last_boxed

PAPER_MARKER = "The answer is: "

_ANSWER_IS = re.compile(r"[Tt]he (?:final )?answer is\s*:?[ \t]*")
_VALUE_OF_X = re.compile(r"[Tt]he value of (?:the )?(?:unknown variable )?[xX] is\s*:?[ \t]*")
_HASHES = re.compile(r"^####[ \t]*", re.M)


def after_last_paper_marker(completion: str) -> str | None:
    """MetaMath's rule: the text after the last 'The answer is: ', else None."""
    parts = completion.split(PAPER_MARKER)
    return parts[-1] if len(parts) > 1 else None


def _rest_of_line(text: str, start: int) -> str:
    line = text[start:].split("\n", 1)[0].strip()
    boxed = last_boxed(line)
    if boxed is not None:
        return boxed.strip()
    line = re.sub(r"(?<!\\)\$+", "$", line)
    if line.count("$") == 2 and line.startswith("$"):
        line = line.strip().rstrip(".").strip()
        line = line[1 : line.rindex("$")]
    return line.strip().rstrip(".").strip()


def _last_match_end(pattern: re.Pattern[str], text: str) -> int | None:
    match = None
    for match in pattern.finditer(text):
        pass
    return match.end() if match else None


def strict_answer_text(completion: str) -> str | None:
    """The final answer under the `strict` scorer's markers, in priority order:
    'The answer is[:]', 'The value of x is', the last \\boxed{}, a '#### N' line."""
    for pattern in (_ANSWER_IS, _VALUE_OF_X):
        end = _last_match_end(pattern, completion)
        if end is not None:
            answer = _rest_of_line(completion, end)
            if answer:
                return answer
    boxed = last_boxed(completion)
    if boxed is not None and boxed.strip():
        return boxed.strip()
    end = _last_match_end(_HASHES, completion)
    if end is not None:
        return _rest_of_line(completion, end) or None
    return None


def backward_answer_text(completion: str) -> str | None:
    """A backward solve's value: the last 'The value of x is N', else the strict markers."""
    end = _last_match_end(_VALUE_OF_X, completion)
    if end is not None:
        answer = _rest_of_line(completion, end)
        if answer:
            return answer
    return strict_answer_text(completion)
