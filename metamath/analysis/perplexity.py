"""`metamath analyze perplexity --model M --data A [B ...]`: how surprised a base model is by
each file's answers (the paper's Fig. 3: MetaMathQA answers are easier for the base model
than GSM8K's own chain of thought or answer-only targets).

Each row is rendered with the training template and masked as for training (the response and
EOS are the targets); its perplexity is exp(mean negative log-likelihood of those tokens
given everything before them). Rows are scored in Ray Data `map_batches` on model actors.
Per file and type: the rows' median and mean perplexity, and the corpus perplexity
exp(total NLL / total target tokens).
"""

from __future__ import annotations

import json
import math
from typing import Any

from metamath import storage
from metamath.errors import DataError

FIELDS = ("source", "type", "perplexity", "nll_sum", "targets")


def response_nll(model: Any, batch: dict[str, Any]) -> tuple[list[float], list[int]]:
    """Per row: the summed NLL of the label tokens (labels != -100) and their count."""
    import torch

    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
    shifted, targets = logits[:, :-1], batch["labels"][:, 1:]
    nll = torch.nn.functional.cross_entropy(shifted.transpose(1, 2), targets, ignore_index=-100, reduction="none")
    counted = targets != -100
    return (nll * counted).sum(dim=1).tolist(), counted.sum(dim=1).tolist()


class PerplexityScorer:
    """Ray Data actor: loads the model once, scores batches of {source, type, query, response}."""

    def __init__(self, model_path: str, template: str, max_length: int, threads: int) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        from metamath.train.model import load_tokenizer

        from metamath.models import resolve_model

        torch.set_num_threads(threads)
        self.threads = threads
        model_path = resolve_model(model_path)  # on this actor's node: a URI is fetched here once
        self.tokenizer = load_tokenizer(model_path)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
        self.template, self.max_length = template, max_length

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        import torch

        from metamath.train.collate import pad_batch
        from metamath.train.examples import encode_example

        torch.set_num_threads(self.threads)  # the UDF runs on another thread than __init__
        out: dict[str, list] = {name: [] for name in FIELDS}
        encoded = [encode_example(self.tokenizer, str(q), str(r), self.template, self.max_length)
                   for q, r in zip(batch["query"], batch["response"])]
        kept = [(i, e) for i, e in enumerate(encoded) if e is not None]
        if kept:
            padded = pad_batch([{"input_ids": e.input_ids, "labels": e.labels} for _, e in kept],
                               self.tokenizer.pad_token_id)
            sums, counts = response_nll(self.model, padded)
            for (i, _), nll, n in zip(kept, sums, counts):
                out["source"].append(batch["source"][i])
                out["type"].append(batch["type"][i])
                out["perplexity"].append(math.exp(nll / n))
                out["nll_sum"].append(nll)
                out["targets"].append(n)
        return out


def _rows(paths: list[str], limit: int | None) -> list[dict[str, str]]:
    from metamath.records.io import read_records

    rows = []
    for path in paths:
        records, _ = read_records(path, "error")
        rows += [{"source": storage.stem(path), "type": r.type, "query": r.query, "response": r.response}
                 for r in records[:limit]]
    return rows


def score_perplexity(model: str, paths: list[str], template: str = "paper", max_length: int = 512,
                     limit: int | None = None, batch_size: int = 8, replicas: int = 1) -> list[dict[str, Any]]:
    """One row per scored example: {source, type, perplexity, nll_sum, targets}."""
    import os

    import ray

    from metamath.models import check_model, model_reference
    from metamath.ray_data import small_dataset
    from metamath.ray_utils import ensure_ray

    if not paths:
        raise DataError("analyze perplexity: no --data file")
    check_model(model, "--model")
    model_path, rows = model_reference(model), _rows(paths, limit)  # each scorer resolves it on its node
    ensure_ray()
    threads = max(1, (os.cpu_count() or 1) // replicas)
    scored = small_dataset(rows, rows_per_block=batch_size).map_batches(
        PerplexityScorer, fn_constructor_args=(model_path, template, max_length, threads), batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=replicas), num_cpus=1)
    return scored.take_all()


def summarize(scored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (source, type): n, median, mean, and corpus perplexity."""
    import statistics

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in scored:
        groups.setdefault((row["source"], row["type"]), []).append(row)
    return [{"source": source, "type": kind, "n": len(rows),
             "median": statistics.median(r["perplexity"] for r in rows),
             "mean": statistics.fmean(r["perplexity"] for r in rows),
             "corpus": math.exp(sum(r["nll_sum"] for r in rows) / sum(r["targets"] for r in rows))}
            for (source, kind), rows in groups.items()]


def write_perplexity(scored: list[dict[str, Any]], out_dir: str, model: str) -> tuple[str, list[str]]:
    """Writes perplexity.md, perplexity.json and perplexity.png; returns the table and the files."""
    written = [storage.join(out_dir, f"perplexity.{ext}") for ext in ("md", "json", "png")]
    summary = summarize(scored)
    storage.write_text(written[1], json.dumps({"model": model, "summary": summary}, indent=2) + "\n")
    lines = ["| file | type | rows | median | mean | corpus |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {g['source']} | {g['type']} | {g['n']} | {g['median']:.3f} | {g['mean']:.3f} | {g['corpus']:.3f} |"
              for g in summary]
    table = "\n".join(lines)
    _box_plot(scored, summary, written[2], model)
    storage.write_text(written[0], f"# Perplexity of the response tokens under {model}\n\n{table}\n\n"
                                   f"![perplexity](perplexity.png)\n")
    return table, written


def _box_plot(scored: list[dict[str, Any]], summary: list[dict[str, Any]], path: str, model: str) -> str:
    from metamath.evaluate.plots import pyplot, save

    plt = pyplot()
    labels = [f"{g['source']}\n{g['type']}" for g in summary]
    values = [[r["perplexity"] for r in scored if (r["source"], r["type"]) == (g["source"], g["type"])]
              for g in summary]
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(labels)), 4))
    ax.boxplot(values, showfliers=False)
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("perplexity of the response")
    ax.set_title(f"{model}: perplexity by data")
    return save(fig, path)
