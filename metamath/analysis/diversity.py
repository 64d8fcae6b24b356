"""`metamath analyze diversity --base A --added B [C ...]`: the paper's diversity gain (Fig. 2, 4).

    d_gain = (1/M) * sum over the M added samples x_i of min over base samples x_j of
             ||f(x_i) - f(x_j)||^2

with f an embedding model applied to each sample's question and answer. `hf:<model>` embeds
with a local transformers model (mean-pooled last hidden states; the embedded SmolLM2 is the
CPU default) on Ray Data actors. The nearest-neighbour search is exact and chunked, so memory
holds one chunk of pairwise distances at a time, never all M x N. With `--gains FILE` (a JSON
object: added set name -> accuracy gain, e.g. from ablation runs) it also reports the Pearson
correlation of the two, as the paper's Fig. 4 (r = 0.972).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

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

        torch.set_num_threads(threads)
        self.threads, self.max_length = threads, max_length
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


def sample_text(query: str, response: str) -> str:
    return f"{query}\n{response}"


def embed_texts(texts: list[str], embedder: str, max_length: int = 512, batch_size: int = 16,
                replicas: int = 1) -> np.ndarray:
    """An (N, d) array, row i the embedding of texts[i]."""
    import os

    import ray

    from metamath.models import resolve_model
    from metamath.ray_utils import ensure_ray, small_dataset

    kind, _, name = embedder.partition(":")
    if kind != "hf" or not name:
        raise ConfigError(f"--embedder {embedder!r}: use hf:<model> (a name, folder or Hub id)")
    ensure_ray()
    threads = max(1, (os.cpu_count() or 1) // replicas)
    rows = small_dataset([{"index": i, "text": t} for i, t in enumerate(texts)], rows_per_block=batch_size)
    embedded = rows.map_batches(MeanPooledEmbedder, fn_constructor_args=(resolve_model(name), max_length, threads),
                                batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=replicas),
                                num_cpus=1, batch_format="numpy").take_all()
    ordered = sorted(embedded, key=lambda row: int(row["index"]))
    return np.stack([np.asarray(row["embedding"], dtype=np.float32) for row in ordered])


def _texts(path: str, limit: int | None) -> list[str]:
    from metamath.records.io import read_records

    records, _ = read_records(path, "error")
    return [sample_text(r.query, r.response) for r in records[:limit]]


def analyze_diversity(base: str, added: list[str], out_dir: str, embedder: str = "hf:smollm2-135m-instruct",
                      limit: int | None = None, gains: str | None = None) -> tuple[str, Path]:
    """Writes diversity.json and diversity.md (and diversity.png with --gains)."""
    base_vectors = embed_texts(_texts(base, limit), embedder)
    result = {Path(path).stem: diversity_gain(base_vectors, embed_texts(_texts(path, limit), embedder))
              for path in added}
    report: dict[str, Any] = {"embedder": embedder, "base": base, "diversity_gain": result}
    lines = ["| added set | diversity gain |", "|---|---:|"] + [f"| {k} | {v:.4f} |" for k, v in result.items()]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if gains:
        report.update(_correlate(result, json.loads(Path(gains).read_text()), out))
        lines.append(f"\nPearson r (diversity gain, accuracy gain) = {report['pearson_r']:.3f} over "
                     f"{len(report['paired'])} sets")
    (out / "diversity.json").write_text(json.dumps(report, indent=2) + "\n")
    table = "\n".join(lines)
    (out / "diversity.md").write_text(f"# Diversity gain over {Path(base).name} ({embedder})\n\n{table}\n")
    return table, out / "diversity.md"


def _correlate(result: dict[str, float], gains: dict[str, float], out: Path) -> dict[str, Any]:
    from metamath.evaluate.plots import pyplot

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
    fig.tight_layout()
    fig.savefig(out / "diversity.png", dpi=100)
    plt.close(fig)
    return {"pearson_r": pearson(xs, ys), "paired": dict(zip(names, ys))}
