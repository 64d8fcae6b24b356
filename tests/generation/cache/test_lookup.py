"""The store lookup for one prompt: what is on file, what to send, who gets a shared reply."""

import json

import pandas as pd
import pyarrow as pa

from metamath.generation.cache.lookup import cached_samples, pending_group, resolve, tag_groups, tag_store
from metamath.generation.cache.store import STORE_SCHEMA


def ask(meta, keys, first=0):
    return json.dumps({"prompt_key": "abcdef01", "messages": "[]", "keys": keys,
                       "sample_indices": list(range(first, first + len(keys))), "meta": json.dumps(meta)})


def have(key, status="ok", **extra):
    return {"key": key, "kind": "response", "status": status, "text": f"t-{key}", "finish_reason": "stop",
            "prompt_tokens": 5, "completion_tokens": 7, **extra}


def verdict(key, check, value):
    return {"key": key, "kind": "verdict", "check": check, "verdict": value,
            "reason": None if value == "correct" else "wrong_answer"}


def frame(asks, haves):
    """Rows as the shuffle hands them over: TAGGED, through tag_groups and tag_store."""
    asks_table = tag_groups(pd.DataFrame([json.loads(a) for a in asks]), buckets=4) if asks else None
    store = pa.Table.from_pylist([{"prompt_key": "abcdef01", **h} for h in haves], schema=STORE_SCHEMA)
    parts = [t for t in (asks_table, tag_store(store, buckets=4) if haves else None) if t is not None]
    return pa.concat_tables(parts).to_pandas()


def test_stored_samples_are_served_with_their_verdicts_and_the_rest_is_pending():
    out = resolve(frame([ask({"id": 1}, ["k0", "k1", "k2"])],
                        [have("k0"), have("k1", status="failed"), verdict("k0", "c1", "correct")]))
    (row,) = out.to_dict("records")
    assert row["pending_keys"] == ["k1", "k2"] and row["pending_indices"] == [1, 2]  # a failure is retried
    (sample,) = list(cached_samples(row))
    assert sample["key"] == "k0" and sample["cached"] and sample["text"] == "t-k0" and sample["sample_index"] == 0
    assert json.loads(sample["verdicts"]) == {"c1": ["correct", None]}
    group = pending_group(row)
    assert group["keys"] == ["k1", "k2"] and group["sample_indices"] == [1, 2] and group["fanout"] == "{}"


def test_a_key_two_groups_ask_for_is_sent_by_one_and_fanned_out_to_the_other():
    out = resolve(frame([ask({"id": "b"}, ["k0", "k1"]), ask({"id": "a"}, ["k0", "k1"])], []))
    rows = sorted(out.to_dict("records"), key=lambda r: r["meta"])
    owner, other = rows
    assert json.loads(owner["meta"])["id"] == "a" and owner["pending_keys"] == ["k0", "k1"]
    assert other["pending_keys"] == [] and other["n_pending"] == 0
    assert json.loads(owner["fanout"]) == {"k0": [other["meta"]], "k1": [other["meta"]]}


def test_a_stored_key_two_groups_ask_for_counts_once_on_file_and_once_reused_as_when_it_was_sent():
    # A resumed run must count as a clean one did: one sample, and a copy for the other group.
    out = resolve(frame([ask({"id": "b"}, ["k0"]), ask({"id": "a"}, ["k0"])], [have("k0")]))
    first, second = sorted(out.to_dict("records"), key=lambda r: r["meta"])
    (served,), (copy,) = list(cached_samples(first)), list(cached_samples(second))
    assert served["cached"] is True and not served.get("reused")
    assert copy["cached"] is False and copy["reused"] is True and copy["text"] == served["text"]
    assert copy["prompt_tokens"] == copy["completion_tokens"] == 0  # paid for once, counted once
