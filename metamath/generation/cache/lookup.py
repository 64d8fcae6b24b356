"""Which samples of a round the store already holds, decided next to the requests.

A round's request groups and the compacted store are shuffled together by prompt key (a hash
shuffle of Ray tasks), so each prompt sees every group that asks for it and every stored response and
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

from metamath.generation.cache.store import STORE_SCHEMA

HAVE_COLUMNS = [f for f in STORE_SCHEMA if f.name != "prompt_key"]


def bucket_of(prompt_key: str, buckets: int) -> int:
    return int(prompt_key[:8], 16) % buckets


# Both sides of the shuffle share one schema: the bucket and prompt key, then a request group
# (`ask`, as JSON: groups are few) or a store row in its own columns (responses are many: JSON
# for each cost more than the whole rest of a cached lookup).
TAGGED = pa.schema([("bucket", pa.int64()), ("prompt_key", pa.string()), ("ask", pa.string()), *HAVE_COLUMNS])


def tag_groups(batch: pd.DataFrame, buckets: int) -> pa.Table:
    asks = [json.dumps({k: _plain(v) for k, v in g.items()}, ensure_ascii=False) for g in batch.to_dict("records")]
    keys = list(batch["prompt_key"])
    blank = pa.nulls(len(keys))
    columns = {"bucket": [bucket_of(k, buckets) for k in keys], "prompt_key": keys, "ask": asks}
    return pa.table({**columns, **{f.name: blank.cast(f.type) for f in HAVE_COLUMNS}}, schema=TAGGED)


def tag_store(batch: pa.Table, buckets: int) -> pa.Table:
    keys = batch["prompt_key"].to_pylist()
    columns = {"bucket": [bucket_of(k, buckets) for k in keys], "prompt_key": keys, "ask": pa.nulls(len(keys), pa.string())}
    return pa.table({**columns, **{f.name: batch[f.name] for f in HAVE_COLUMNS}}, schema=TAGGED)


def resolve_bucket(bucket: pa.Table) -> pd.DataFrame:
    """Shuffle body for one bucket: every prompt in it resolved (one frame for the bucket: a
    frame per prompt cost ~1 ms each, 7 s for GSM8K's 7.5K questions)."""
    by_prompt: dict[str, tuple[list, list]] = {}
    for key, ask, have in zip(bucket["prompt_key"].to_pylist(), bucket["ask"].to_pylist(), _haves(bucket)):
        asks, haves = by_prompt.setdefault(key, ([], []))
        if isinstance(ask, str):
            asks.append(json.loads(ask))
        else:
            haves.append(have)
    return pd.DataFrame([row for asks, haves in by_prompt.values() for row in resolve_prompt(asks, haves)])


def _haves(table: pa.Table) -> Iterator[dict[str, Any]]:
    """The store columns of each row (Arrow to Python column by column: 4x faster than pandas)."""
    names = [f.name for f in HAVE_COLUMNS]
    for values in zip(*(table[name].to_pylist() for name in names)):
        yield dict(zip(names, values))


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
    """One prompt key's rows (TAGGED) -> one row per asking group."""
    table = pa.Table.from_pandas(group, preserve_index=False)
    asks = [json.loads(a) for a in table["ask"].to_pylist() if isinstance(a, str)]
    haves = [h for a, h in zip(table["ask"].to_pylist(), _haves(table)) if not isinstance(a, str)]
    return pd.DataFrame(resolve_prompt(asks, haves))


def resolve_prompt(asks: list[dict], haves: list[dict]) -> list[dict]:
    """The groups asking for one prompt, against what the store holds for it."""
    on_file, verdicts = _on_file(haves)
    owner: dict[str, dict] = {}  # pending key -> the row of the ask that sends it
    served: set[str] = set()  # keys on file already handed to an ask
    out = []
    for ask in sorted(asks, key=lambda a: a["meta"]):
        row = {**ask, "pending_keys": [], "pending_indices": [], "cached": [], "fanout": {}, "n_cached": 0}
        for key, index in zip(ask["keys"], ask["sample_indices"]):
            if key in on_file:
                # The first ask gets the sample from the store; the others get a copy counted as
                # reused, just as when the sample is sent: a resumed run counts as a clean one.
                sample = _cached_row(on_file[key]) if key not in served else _reused_row(on_file[key])
                served.add(key)
                row["cached"].append({**sample, "prompt_key": ask["prompt_key"], "sample_index": int(index),
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
    return out


def _cached_row(have: dict) -> dict[str, Any]:
    return {"key": have["key"], "text": have["text"], "status": "ok",
            "reason": None, "finish_reason": have.get("finish_reason"),
            "prompt_tokens": int(have.get("prompt_tokens") or 0),
            "completion_tokens": int(have.get("completion_tokens") or 0), "cached": True,
            "stored_by": have.get("run")}


def _reused_row(have: dict[str, Any]) -> dict[str, Any]:
    return {**_cached_row(have), "cached": False, "reused": True, "prompt_tokens": 0, "completion_tokens": 0}


def cached_samples(row: dict[str, Any], bought_by: str | None = None) -> Iterator[dict[str, Any]]:
    """flat_map body: the stored samples of one resolved ask, as round output rows. Samples stored
    by `bought_by` (this run, collecting its batches before the lookup) count as bought, not
    as served from the store."""
    meta = json.loads(row["meta"])  # once per group, not once per sample downstream
    for sample in json.loads(row["cached"]):
        if bought_by and sample.pop("stored_by", None) == bought_by and sample.get("cached"):
            sample["cached"] = False
        yield {**sample, "meta": row["meta"], "stage": meta.get("stage"), "method": meta.get("method")}


def pending_group(row: dict[str, Any]) -> dict[str, Any]:
    """map body: a resolved ask with something to send -> a group row for the backends."""
    return {"messages": row["messages"], "keys": list(row["pending_keys"]),
            "sample_indices": [int(i) for i in row["pending_indices"]], "meta": row["meta"],
            "prompt_key": row["prompt_key"], "fanout": row["fanout"], "params": row.get("params") or ""}
