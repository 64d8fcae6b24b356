"""Micro-batches: right padding, and optional packing that never lets samples attend to
each other.

Packing concatenates whole examples into rows of at most `max_length` tokens. Each row
keeps its segments' lengths; the collator turns them into position ids that restart at
every segment and a block-diagonal causal mask (4D, boolean, used as-is by the model's
SDPA attention), so a packed row computes exactly what its examples would alone.
"""

from __future__ import annotations

from typing import Any, Sequence

from metamath.train.examples import IGNORE_INDEX


def pack_rows(batch: dict[str, Any], max_length: int) -> dict[str, list]:
    """Ray Data `map_batches` body: first-fit-decreasing packing within one batch."""
    order = sorted(range(len(batch["input_ids"])), key=lambda i: -len(batch["input_ids"][i]))
    bins: list[list[int]] = []
    room: list[int] = []
    for i in order:
        size = len(batch["input_ids"][i])
        slot = next((b for b, free in enumerate(room) if free >= size), None)
        if slot is None:
            bins.append([i])
            room.append(max_length - size)
        else:
            bins[slot].append(i)
            room[slot] -= size
    out: dict[str, list] = {"input_ids": [], "labels": [], "seq_lens": []}
    for members in bins:
        out["input_ids"].append([t for i in members for t in batch["input_ids"][i]])
        out["labels"].append([t for i in members for t in batch["labels"][i]])
        out["seq_lens"].append([len(batch["input_ids"][i]) for i in members])
    return out


def pad_batch(rows: Sequence[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Right-pad to the longest row: ids with `pad_id`, labels with -100, mask 0."""
    import torch

    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        n = len(row["input_ids"])
        ids[b, :n] = torch.as_tensor(row["input_ids"], dtype=torch.long)
        labels[b, :n] = torch.as_tensor(row["labels"], dtype=torch.long)
        mask[b, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def packed_batch(rows: Sequence[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Packed rows -> ids, labels, restarting position ids and a block-diagonal causal mask."""
    import torch

    batch = pad_batch(rows, pad_id)
    width = batch["input_ids"].shape[1]
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    segment = torch.full((len(rows), width), -1, dtype=torch.long)
    for b, row in enumerate(rows):
        start = 0
        for s, length in enumerate(row["seq_lens"]):
            positions[b, start:start + length] = torch.arange(length)
            segment[b, start:start + length] = s
            start += length
    causal = torch.tril(torch.ones((width, width), dtype=torch.bool))
    same = segment[:, :, None] == segment[:, None, :]
    real = (segment >= 0)[:, :, None]
    mask = (same & causal & real) | torch.eye(width, dtype=torch.bool)  # pads see only themselves
    batch.update(position_ids=positions, attention_mask=mask[:, None, :, :], n_real=int((segment >= 0).sum()))
    return batch


def collate(rows: Sequence[dict[str, Any]], pad_id: int, packed: bool, padding_free: bool = False) -> dict[str, Any]:
    if padding_free:
        from metamath.train.padding_free import flatten_batch

        return flatten_batch(rows)
    return packed_batch(rows, pad_id) if packed else pad_batch(rows, pad_id)
