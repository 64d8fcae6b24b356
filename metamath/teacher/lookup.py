"""Which samples of a round the store already holds, decided next to the requests.

A round's request groups and the compacted store are shuffled together by prompt key (one Ray
Data groupby), so each prompt sees every group that asks for it and every stored response and
verdict for it, and nothing else. Out comes one row per asking group: the samples on file (with
their stored verdicts), and the samples still to send. A sample key asked for by several groups
(the same prompt twice: duplicate benchmark items, a rephrasing equal to another question) is
sent once, by the first group in a stable order; the others get it through `fanout`.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pandas as pd
import pyarrow as pa

def bucket_of(prompt_key: str, buckets: int) -> int:
    return int(prompt_key[:8], 16) % buckets


TAGGED = pa.schema([("bucket", pa.int64()), ("prompt_key", pa.string()), ("ask", pa.string()), ("have", pa.string())])


def tag_groups(batch: pd.DataFrame, buckets: int) -> pa.Table:
    """Both sides of the shuffle share one schema: a bucket of prompt keys, the prompt key, and
    a group (ask) or a store row (have) as JSON. A bucket holds many prompts: one UDF call per
    bucket, not per prompt (Ray Data calls `map_groups` once per group)."""
    asks = [json.dumps({k: _plain(v) for k, v in g.items()}, ensure_ascii=False) for g in batch.to_dict("records")]
    return _tagged(batch["prompt_key"], asks, None, buckets)


def tag_store(batch: pd.DataFrame, buckets: int) -> pa.Table:
    haves = [json.dumps({k: _plain(v) for k, v in r.items()}, ensure_ascii=False) for r in batch.to_dict("records")]
    return _tagged(batch["prompt_key"], None, haves, buckets)


def _tagged(keys, asks: list | None, haves: list | None, buckets: int) -> pa.Table:
    keys = list(keys)
    blank = [None] * len(keys)
    return pa.table({"bucket": [bucket_of(k, buckets) for k in keys], "prompt_key": keys,
                     "ask": asks if asks is not None else blank, "have": haves if haves is not None else blank},
                    schema=TAGGED)


def resolve_bucket(bucket: pd.DataFrame) -> pd.DataFrame:
    """`map_groups` body for one bucket: every prompt in it resolved."""
    parts = [resolve(group) for _, group in bucket.groupby("prompt_key", sort=False)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _plain(value: Any) -> Any:
    """numpy arrays and scalars from Arrow -> JSON-able Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _on_file(haves: list[dict]) -> tuple[dict[str, dict], dict[str, dict[str, list]]]:
    """(key -> the ok response on file, key -> {check: [verdict, reason]})."""
    responses: dict[str, dict] = {}
    verdicts: dict[str, dict[str, list]] = {}
    for have in haves:
        if have["kind"] == "verdict":
            verdicts.setdefault(have["key"], {})[have["check"]] = [have["verdict"], have["reason"]]
        elif have["status"] == "ok":
            responses.setdefault(have["key"], have)
    return responses, verdicts


def resolve(group: pd.DataFrame) -> pd.DataFrame:
    """`map_groups` body for one prompt key: one row per asking group."""
    asks = sorted((json.loads(a) for a in group["ask"] if isinstance(a, str)), key=lambda a: a["meta"])
    on_file, verdicts = _on_file([json.loads(h) for h in group["have"] if isinstance(h, str)])
    owner: dict[str, dict] = {}  # pending key -> the row of the ask that sends it
    out = []
    for ask in asks:
        row = {**ask, "pending_keys": [], "pending_indices": [], "cached": [], "fanout": {}, "n_cached": 0}
        for key, index in zip(ask["keys"], ask["sample_indices"]):
            if key in on_file:
                row["cached"].append({**_cached_row(on_file[key]), "sample_index": int(index),
                                      "verdicts": json.dumps(verdicts.get(key, {}))})
            elif key in owner:  # an earlier ask sends it; this one gets a copy of the reply
                owner[key]["fanout"].setdefault(key, []).append(ask["meta"])
            else:
                owner[key] = row
                row["pending_keys"].append(key)
                row["pending_indices"].append(int(index))
        out.append(row)
    for row in out:
        row["n_cached"], row["n_pending"] = len(row["cached"]), len(row["pending_keys"])
        row["has_pending"] = int(bool(row["pending_keys"]))
        row["cached"] = json.dumps(row["cached"], ensure_ascii=False)
        row["fanout"] = json.dumps(row["fanout"], ensure_ascii=False)
    return pd.DataFrame(out)


def _cached_row(have: dict) -> dict[str, Any]:
    return {"key": have["key"], "prompt_key": have["prompt_key"], "text": have["text"], "status": "ok",
            "reason": None, "finish_reason": have.get("finish_reason"),
            "prompt_tokens": int(have.get("prompt_tokens") or 0),
            "completion_tokens": int(have.get("completion_tokens") or 0), "cached": True}


def cached_samples(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """flat_map body: the stored samples of one resolved ask, as round output rows."""
    for sample in json.loads(row["cached"]):
        yield {**sample, "meta": row["meta"]}


def pending_group(row: dict[str, Any]) -> dict[str, Any]:
    """map body: a resolved ask with something to send -> a group row for the backends."""
    return {"messages": row["messages"], "keys": list(row["pending_keys"]),
            "sample_indices": [int(i) for i in row["pending_indices"]], "meta": row["meta"],
            "prompt_key": row["prompt_key"], "fanout": row["fanout"]}
