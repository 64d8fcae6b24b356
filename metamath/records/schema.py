"""The MetaMathQA row: the released dataset's four fields plus our provenance."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

RECORD_TYPES = (
    "GSM_AnsAug", "GSM_Rephrased", "GSM_SV", "GSM_FOBAR",
    "MATH_AnsAug", "MATH_Rephrased", "MATH_SV", "MATH_FOBAR", "GSM_DARS", "MATH_DARS",
)
METHOD_SUFFIX = {"ansaug": "AnsAug", "rephrase": "Rephrased", "sv": "SV", "fobar": "FOBAR", "dars": "DARS"}


def record_type(dataset: str, method: str) -> str:
    """('gsm8k', 'sv') -> 'GSM_SV'."""
    prefix = {"gsm8k": "GSM", "math": "MATH"}[dataset]
    return f"{prefix}_{METHOD_SUFFIX[method]}"


@dataclass(frozen=True)
class MetaMathQARecord:
    query: str
    response: str
    type: str
    original_question: str
    source_id: str = ""
    teacher: str = ""
    sample_index: int = 0
    request_key: str = ""

    def __post_init__(self) -> None:
        if self.type not in RECORD_TYPES:
            raise ValueError(f"type {self.type!r} is not one of {', '.join(RECORD_TYPES)}")

    def to_dict(self) -> dict[str, Any]:
        # Every field is a scalar: a shallow copy (asdict deep-copies: 40% of verifying a row).
        return dict(self.__dict__)


RECORD_FIELDS = tuple(f.name for f in fields(MetaMathQARecord))
REQUIRED_FIELDS = ("query", "response", "type", "original_question")

_TRAILING_ANSWER = re.compile(r"\s*[Tt]he (?:final )?answer is\s*:?[^\n]*\s*$")


def strip_trailing_answer(reasoning: str) -> str:
    """Drop the teacher's own closing 'The answer is ...' lines (all of them, when it wrote
    several in a row); the finaliser writes its own."""
    text = reasoning.rstrip()
    while True:
        stripped = _TRAILING_ANSWER.sub("", text).rstrip()
        if stripped == text:
            return text
        text = stripped


def finalize_response(dataset: str, reasoning: str, answer: str, backward: bool = False) -> str:
    """MetaMathQA's closing lines: GSM '#### N' then 'The answer is: N'; MATH 'The answer is: X'.

    `answer` is the verified gold (the original's answer, or the masked value for SV/FOBAR).
    Backward solutions are kept whole, with their 'The value of x is N' sentence, as in the
    released data; forward ones lose the teacher's own closing answer line.
    """
    body = reasoning.rstrip() if backward else strip_trailing_answer(reasoning)
    if dataset == "gsm8k":
        return f"{body}\n#### {answer}\nThe answer is: {answer}"
    return f"{body}\nThe answer is: {answer}"
