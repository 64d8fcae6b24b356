"""Check each teacher solve against its gold and turn the correct ones into MetaMathQA rows.
Runs as a Ray Data `map_batches` stage (math-verify is CPU-bound).

Verdicts are stored next to the responses: a verdict line in the store's journal names the
response's key and a check id (what was checked against: the scheme and the gold, and the
version of the checker), so a re-run of the same job judges nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa

from metamath.records import RECORD_FIELDS, MetaMathQARecord, finalize_response, record_type
from metamath.scoring.extract import backward_answer_text, strict_answer_text
from metamath.scoring.strict import equivalent

BACKWARD = ("sv", "fobar")
CHECKER_VERSION = "1"  # bump when the verdict of a stored response could change
# A verdict and, for a correct solve, its MetaMathQA record (the record's `type` is the verdict's).
VERIFIED_SCHEMA = pa.schema([("method", pa.string()), ("verdict", pa.string()), ("reason", pa.string()),
                             ("cached_verdict", pa.bool_()), ("question_id", pa.string())]
                            + [(name, pa.int64() if name == "sample_index" else pa.string()) for name in RECORD_FIELDS])


def _gold(meta: dict[str, Any]) -> str:
    return meta["value"] if meta["method"] in BACKWARD else meta["gold"]


def check_id(dataset: str, meta: dict[str, Any]) -> str:
    scheme = "backward" if meta["method"] in BACKWARD else "forward"
    return hashlib.sha256(f"{CHECKER_VERSION}|{dataset}|{scheme}|{_gold(meta)}".encode()).hexdigest()[:16]


def judge(dataset: str, meta: dict[str, Any], text: str) -> tuple[str, str | None]:
    """(verdict, reason): 'correct' or 'dropped' with why."""
    backward = meta["method"] in BACKWARD
    answer = backward_answer_text(text) if backward else strict_answer_text(text)
    if answer is None:
        return "dropped", "no_answer"
    scheme = ("gsm8k_backward" if backward else "gsm8k") if dataset == "gsm8k" else "math"
    if not equivalent(scheme, answer, _gold(meta)):
        return "dropped", "wrong_answer"
    return "correct", None


def record_of(row: dict[str, Any], meta: dict[str, Any], dataset: str, teacher_model: str) -> MetaMathQARecord:
    backward = meta["method"] in BACKWARD
    return MetaMathQARecord(
        query=meta["query"], response=finalize_response(dataset, row["text"] or "", _gold(meta), backward),
        type=record_type(dataset, meta["method"]), original_question=meta["original_question"],
        source_id=meta["source_id"], teacher=teacher_model, sample_index=int(row["sample_index"]), request_key=row["key"],
    )


def check(row: dict[str, Any], dataset: str, teacher_model: str, stored: list | None = None,
          meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """One solve row -> {type, method, verdict, reason, cached_verdict, record?}. `stored` is this
    response's verdict on file for the same check, if any: then nothing is judged again."""
    meta = meta if meta is not None else json.loads(row["meta"])
    out = {"type": record_type(dataset, meta["method"]), "method": meta["method"], "verdict": "dropped",
           "record": None, "cached_verdict": stored is not None, "question_id": meta["source_id"]}
    if row["status"] != "ok":
        return {**out, "reason": "request_failed"}
    verdict, reason = stored if stored is not None else judge(dataset, meta, row["text"] or "")
    out.update(verdict=verdict, reason=reason)
    if verdict == "correct":
        out["record"] = record_of(row, meta, dataset, teacher_model).to_dict()
    return out


def verify_batch(batch: pa.Table, dataset: str, teacher_model: str, store_root: str | None = None,
                 run: str = "") -> pa.Table:
    """Ray Data `map_batches` body over round output rows; new verdicts go to the store."""
    from metamath.generation.cache.store import process_writer

    out = []
    for row in batch.to_pylist():
        meta = json.loads(row["meta"])
        check_of = check_id(dataset, meta)
        stored = json.loads(row.get("verdicts") or "{}").get(check_of)
        result = check(row, dataset, teacher_model, stored, meta)
        if store_root and stored is None and row["status"] == "ok":
            process_writer(store_root, run).append_verdict(row["key"], row.get("prompt_key") or "", check_of,
                                                           result["verdict"], result["reason"])
        record = result.pop("record") or {}
        out.append({**{name: record.get(name) for name in RECORD_FIELDS}, **result})
    if store_root:
        process_writer(store_root, run).flush()
    return pa.Table.from_pylist(out, schema=VERIFIED_SCHEMA)
