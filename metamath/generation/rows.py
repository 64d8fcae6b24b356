"""The one row schema every backend's samples are written in (one row per sample), and the
conversions into it."""

from __future__ import annotations

import json
import math
from typing import Any, Iterator

import pyarrow as pa

ROW_SCHEMA = pa.schema([
    ("key", pa.string()), ("prompt_key", pa.string()), ("sample_index", pa.int64()), ("meta", pa.string()),
    ("stage", pa.string()), ("method", pa.string()), ("text", pa.string()), ("status", pa.string()),
    ("reason", pa.string()), ("finish_reason", pa.string()), ("prompt_tokens", pa.int64()),
    ("completion_tokens", pa.int64()), ("attempts", pa.int64()), ("retries", pa.string()), ("cached", pa.bool_()),
    ("reused", pa.bool_()), ("latency_s", pa.float64()), ("finished_at", pa.float64()), ("verdicts", pa.string()),
])
_DEFAULTS = {"attempts": 0, "retries": "{}", "cached": False, "reused": False, "latency_s": 0.0,
             "finished_at": 0.0, "verdicts": "{}", "prompt_tokens": 0, "completion_tokens": 0}


def expand_fanout(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A fresh sample, then a copy for every other group that asked for the same key."""
    fanout = json.loads(row.get("fanout") or "{}")
    yield row
    for meta in fanout.get(row["key"], []):
        yield {**row, "meta": meta, "reused": True, "attempts": 0, "retries": "{}", "prompt_tokens": 0,
               "completion_tokens": 0}


def to_schema(batch: pa.Table, tally: Any = None, prices: dict[str, float] | None = None) -> pa.Table:
    """Any row kind -> ROW_SCHEMA (stage and method read from the meta); counts fresh samples
    and, with `prices`, what they cost (in micro-dollars: the tally keeps integers)."""
    from metamath.progress import report
    from metamath.generation.budget import cost_usd

    out = []
    for row in batch.to_pylist():
        given = {k: _plain(v) for k, v in row.items() if k in ROW_SCHEMA.names}
        full = {**_DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
        if not full.get("stage"):
            meta = json.loads(row.get("meta") or "{}")
            full.update(stage=meta.get("stage"), method=meta.get("method"))
        out.append({name: full.get(name) for name in ROW_SCHEMA.names})
    fresh = [r for r in out if not r["cached"] and not r["reused"]]
    spent = cost_usd(prices or {}, sum(r["prompt_tokens"] or 0 for r in fresh), sum(r["completion_tokens"] or 0 for r in fresh))
    unsent = sum(r["reason"] == "budget" for r in fresh)
    report(tally, done=len(fresh), failed=sum(r["status"] != "ok" for r in fresh) - unsent, not_sent=unsent,
           spent_micro_usd=round(spent * 1e6))
    return pa.Table.from_pylist(out, schema=ROW_SCHEMA)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value
