"""Padding-free micro-batches, as TRL's `padding_free` and flash-attention's varlen kernels.

A micro-batch's examples are laid end to end in one row: no pad token is computed. Position
ids restart at each example, and attention runs example by example (`varlen_sdpa`: causal
SDPA on each example's slice, registered with transformers' attention interface), so no
token ever sees another example. The LM head and the loss are computed only at the positions
whose next token is a target (response + EOS): the prompt positions' logits, which the
padded loss computes over the whole vocabulary and then ignores, are never formed. The loss
is the same number as the padded batch's (the mean over the micro-batch's target tokens);
tests/train/test_padding_free.py holds the two to each other, gradients included.
"""

from __future__ import annotations

from typing import Any, Sequence

from metamath.train.examples import IGNORE_INDEX

ATTENTION = "varlen_sdpa"
LOSS_TARGETS = "loss_targets"  # batch key: the target token at each kept position


def varlen_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, scaling: float | None = None,
                dropout: float = 0.0, **kwargs: Any) -> tuple[Any, None]:
    """Causal SDPA on each example's slice of a concatenated row (bounds in `cu_seq_lens_q`);
    without bounds (one example, or a generate call) the row is one causal sequence."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    bounds = kwargs.get("cu_seq_lens_q")
    if bounds is None:
        return sdpa_attention_forward(module, query, key, value, None, scaling=scaling, dropout=dropout, is_causal=True)
    cuts = bounds.tolist()
    parts = [sdpa_attention_forward(module, query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], None,
                                    scaling=scaling, dropout=dropout, is_causal=True)[0]
             for a, b in zip(cuts[:-1], cuts[1:])]
    return torch.cat(parts, dim=1), None


def register_attention() -> None:
    """Make `varlen_sdpa` an `attn_implementation` name in this process (idempotent). No mask
    function is registered with it, so transformers builds no attention mask for it."""
    from transformers import AttentionInterface

    AttentionInterface.register(ATTENTION, varlen_sdpa)


def segment_lengths(row: dict[str, Any]) -> list[int]:
    """A packed row's example lengths, or one example's."""
    return list(row.get("seq_lens") or [len(row["input_ids"])])


def flatten_batch(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rows (examples, or packed rows of examples) -> one concatenated row with restarting
    position ids, the examples' bounds, and the kept positions with their target tokens."""
    import torch

    ids = torch.as_tensor([t for r in rows for t in r["input_ids"]], dtype=torch.long)
    labels = torch.as_tensor([t for r in rows for t in r["labels"]], dtype=torch.long)
    lengths = torch.as_tensor([n for r in rows for n in segment_lengths(r)], dtype=torch.int32)
    bounds = torch.zeros(len(lengths) + 1, dtype=torch.int32)
    bounds[1:] = torch.cumsum(lengths, 0)
    starts = bounds[:-1].long()
    positions = torch.arange(len(ids)) - torch.repeat_interleave(starts, lengths.long())
    labels[starts] = IGNORE_INDEX  # an example's first token is never predicted (nothing precedes it)
    following = torch.cat([labels[1:], labels.new_full((1,), IGNORE_INDEX)])
    kept = (following != IGNORE_INDEX).nonzero().squeeze(1)
    longest = int(lengths.max())
    return {"input_ids": ids[None], "position_ids": positions[None], "cu_seq_lens_q": bounds, "cu_seq_lens_k": bounds,
            "max_length_q": longest, "max_length_k": longest, "logits_to_keep": kept, LOSS_TARGETS: following[kept],
            "n_real": len(ids)}


def target_loss(model: Any, batch: dict[str, Any]) -> Any:
    """Mean cross-entropy over the kept positions: the padded batch's loss, computed only
    where it counts. `model` is the module or the DeepSpeed engine around it."""
    import torch

    inputs = dict(batch)
    targets = inputs.pop(LOSS_TARGETS)
    logits = model(**inputs).logits[0]
    return torch.nn.functional.cross_entropy(logits.float(), targets)
