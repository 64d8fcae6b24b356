"""`metamath analyze diversity --base A --added B [C ...]`: the paper's diversity gain (Fig. 2, 4).

    d_gain = (1/M) * sum over the M added samples x_i of min over base samples x_j of
             ||f(x_i) - f(x_j)||^2

with f an embedding model applied to each sample's question and answer. `hf:<model>` embeds
with a local transformers model (mean-pooled last hidden states; the embedded SmolLM2 is the
CPU default) on Ray Data actors; `openai:<model>` (the paper's `text-embedding-ada-002`) calls
an OpenAI-compatible `/v1/embeddings` with the teacher's settings, limiter and response store
(metamath/analysis/api_embeddings.py). The nearest-neighbour search is exact and chunked, so memory
holds one chunk of pairwise distances at a time, never all M x N. With `--gains FILE` (a JSON
object: added set name -> accuracy gain, or `metamath ablate`'s ablation.json) it also reports the Pearson
correlation of the two, as the paper's Fig. 4 (r = 0.972).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from metamath import storage
from metamath.config import TeacherConfig
from metamath.errors import ConfigError, DataError


def diversity_gain(base: np.ndarray, added: np.ndarray, chunk: int = 1024) -> float:
    """Mean over `added` rows of the squared L2 distance to the nearest `base` row (exact)."""
    if len(base) == 0 or len(added) == 0:
        raise DataError("diversity gain needs at least one base and one added sample")
    base = base.astype(np.float64)
    base_norms = np.einsum("ij,ij->i", base, base)
    total = 0.0
    for start in range(0, len(added), chunk):
        part = added[start:start + chunk].astype(np.float64)
        nearest = np.full(len(part), np.inf)
        for b in range(0, len(base), chunk):
            d2 = (np.einsum("ij,ij->i", part, part)[:, None] + base_norms[None, b:b + chunk]
                  - 2.0 * part @ base[b:b + chunk].T)
            nearest = np.minimum(nearest, d2.min(axis=1))
        total += float(np.maximum(nearest, 0.0).sum())  # float error can dip just below 0
    return total / len(added)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    if len(xs) != len(ys) or len(xs) < 2:
        raise DataError(f"a correlation needs two or more pairs, got {len(xs)} and {len(ys)}")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    spread = math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))
    return cov / spread if spread else float("nan")


class MeanPooledEmbedder:
    """Ray Data actor: mean of the last hidden states over the real tokens, one vector per text."""

    def __init__(self, model_path: str, max_length: int, threads: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from metamath.models import resolve_model

        torch.set_num_threads(threads)
        self.threads, self.max_length = threads, max_length
        model_path = resolve_model(model_path)  # on this actor's node: a URI is fetched here once
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModel.from_pretrained(model_path, dtype=torch.float32).eval()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import torch

        torch.set_num_threads(self.threads)
        enc = self.tokenizer(list(batch["text"]), return_tensors="pt", padding=True, truncation=True,
                             max_length=self.max_length)
        with torch.no_grad():
            hidden = self.model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        return {"index": batch["index"], "embedding": pooled.numpy()}


@dataclass
class EmbeddingAPI:
    """For `openai:<model>`: the teacher section's endpoint, key variable and limits, the store."""

    teacher: TeacherConfig
    store: str
    counts: dict[str, int] = field(default_factory=dict)  # sent / from_store, over every call


def sample_text(query: str, response: str) -> str:
    return f"{query}\n{response}"


def embed_texts(texts: list[str], embedder: str, max_length: int = 512, batch_size: int = 16,
                replicas: int = 1, api: EmbeddingAPI | None = None) -> np.ndarray:
    """An (N, d) array, row i the embedding of texts[i]."""
    kind, _, name = embedder.partition(":")
    if kind not in ("hf", "openai") or not name:
        raise ConfigError(f"--embedder {embedder!r}: use hf:<model> (a name, folder or Hub id) or openai:<model>")
    if kind == "openai":
        from metamath.analysis.api_embeddings import embed_via_api

        api = api or EmbeddingAPI(TeacherConfig(backend="openai", model=name), "outputs/analysis/responses")
        vectors, counts = embed_via_api(texts, api.teacher.model_copy(update={"model": name}), api.store)
        for key, value in counts.items():
            api.counts[key] = api.counts.get(key, 0) + value
        return vectors
    return _embed_locally(texts, name, max_length, batch_size, replicas)


def _embed_locally(texts: list[str], name: str, max_length: int, batch_size: int, replicas: int) -> np.ndarray:
    import os

    import ray

    from metamath.models import model_reference
    from metamath.ray_data import small_dataset
    from metamath.ray_utils import ensure_ray

    ensure_ray()
    threads = max(1, (os.cpu_count() or 1) // replicas)
    rows = small_dataset([{"index": i, "text": t} for i, t in enumerate(texts)], rows_per_block=batch_size)
    embedded = rows.map_batches(MeanPooledEmbedder, fn_constructor_args=(model_reference(name), max_length, threads),
                                batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=replicas),
                                num_cpus=1, batch_format="numpy").take_all()
    ordered = sorted(embedded, key=lambda row: int(row["index"]))
    return np.stack([np.asarray(row["embedding"], dtype=np.float32) for row in ordered])


def _texts(path: str, limit: int | None) -> list[str]:
    from metamath.records.io import read_records

    records, _ = read_records(path, "error")
    return [sample_text(r.query, r.response) for r in records[:limit]]


def analyze_diversity(base: str, added: list[str], out_dir: str, embedder: str = "hf:smollm2-135m-instruct",
                      limit: int | None = None, gains: str | None = None,
                      teacher: TeacherConfig | None = None) -> tuple[str, list[str]]:
    """Writes diversity.json and diversity.md (and diversity.png with --gains). `teacher`: the
    endpoint settings for an `openai:` embedder; its vectors are stored under OUT/responses."""
    api = EmbeddingAPI(teacher or TeacherConfig(backend="openai"), storage.join(out_dir, "responses"))
    base_vectors = embed_texts(_texts(base, limit), embedder, api=api)
    result = {storage.stem(path): diversity_gain(base_vectors, embed_texts(_texts(path, limit), embedder, api=api))
              for path in added}
    report: dict[str, Any] = {"embedder": embedder, "base": base, "diversity_gain": result}
    if api.counts:
        report["embedding_requests"] = api.counts  # texts sent vs read back from the store
    lines = ["| added set | diversity gain |", "|---|---:|"] + [f"| {k} | {v:.4f} |" for k, v in result.items()]
    written = [storage.join(out_dir, f"diversity.{ext}") for ext in ("md", "json")]
    if gains:
        written.append(storage.join(out_dir, "diversity.png"))
        report.update(_correlate(result, load_gains(gains), written[2]))
        lines.append(f"\nPearson r (diversity gain, accuracy gain) = {report['pearson_r']:.3f} over "
                     f"{len(report['paired'])} sets")
    storage.write_text(written[1], json.dumps(report, indent=2) + "\n")
    table = "\n".join(lines)
    storage.write_text(written[0], f"# Diversity gain over {storage.name(base)} ({embedder})\n\n{table}\n")
    return table, written


def load_gains(path: str) -> dict[str, float]:
    """A JSON object {added set: accuracy gain}, or an `metamath ablate` ablation.json, whose
    gains over the baseline are keyed by method set (and by cell)."""
    data = json.loads(storage.read_text(path))
    if isinstance(data, dict) and "cells" in data and "baseline" in data:
        from metamath.ablate.report import accuracy_gains

        return accuracy_gains(data)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object {{added set name: accuracy gain}} or an ablation.json")
    return {str(k): float(v) for k, v in data.items()}


def _correlate(result: dict[str, float], gains: dict[str, float], plot: str) -> dict[str, Any]:
    from metamath.evaluate.plots import pyplot, save

    missing = sorted(set(result) - set(gains))
    if missing:
        raise DataError(f"--gains has no accuracy gain for {', '.join(missing)}")
    names = list(result)
    xs, ys = [result[n] for n in names], [float(gains[n]) for n in names]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(xs, ys)
    for name, x, y in zip(names, xs, ys):
        ax.annotate(name, (x, y), fontsize=8)
    ax.set_xlabel("diversity gain")
    ax.set_ylabel("accuracy gain")
    save(fig, plot)
    return {"pearson_r": pearson(xs, ys), "paired": dict(zip(names, ys))}
