"""Check each teacher solve against its gold and turn the correct ones into MetaMathQA rows.
Runs as a Ray Data `map_batches` stage (math-verify is CPU-bound)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from metamath.records import MetaMathQARecord, finalize_response, record_type
from metamath.scoring.extract import backward_answer_text, strict_answer_text
from metamath.scoring.strict import equivalent

BACKWARD = ("sv", "fobar")


def check(row: dict[str, Any], dataset: str, teacher_model: str) -> dict[str, Any]:
    """One solve row -> {type, verdict, reason, record?}."""
    meta = json.loads(row["meta"])
    method = meta["method"]
    out = {"type": record_type(dataset, method), "method": method, "verdict": "dropped", "record": None}
    if row["status"] != "ok":
        return {**out, "reason": "request_failed"}
    text = row["text"] or ""
    backward = method in BACKWARD
    gold = meta["value"] if backward else meta["gold"]
    answer = backward_answer_text(text) if backward else strict_answer_text(text)
    if answer is None:
        return {**out, "reason": "no_answer"}
    scheme = ("gsm8k_backward" if backward else "gsm8k") if dataset == "gsm8k" else "math"
    if not equivalent(scheme, answer, gold):
        return {**out, "reason": "wrong_answer"}
    record = MetaMathQARecord(
        query=meta["query"], response=finalize_response(dataset, text, gold, backward), type=out["type"],
        original_question=meta["original_question"], source_id=meta["source_id"], teacher=teacher_model,
        sample_index=int(row["sample_index"]), request_key=row["key"],
    )
    return {**out, "verdict": "correct", "reason": None, "record": json.dumps(record.to_dict(), ensure_ascii=False)}


def verify_batch(batch: pd.DataFrame, dataset: str, teacher_model: str) -> pd.DataFrame:
    return pd.DataFrame([check(row, dataset, teacher_model) for row in batch.to_dict("records")])
