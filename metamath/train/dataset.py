"""MetaMathQA -> a tokenised Ray Dataset for Ray Train.

The file is checked row by row first (so a bad row is reported as file:line, and an
empty file or missing field stops the job before any worker starts); then Ray Data
reads it, tokenises in `map_batches` on an actor pool, optionally packs, and the result
is materialised once so that training workers never wait on tokenisation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from metamath.config.schema import TrainConfig
from metamath.errors import ConfigError, DataError
from metamath.records.io import read_records
from metamath.train.collate import pack_rows
from metamath.train.examples import encode_batch


@dataclass(frozen=True)
class DataStats:
    source_rows: int
    skipped_malformed: int
    truncated: int
    dropped_no_target: int
    examples: int
    train_rows: int  # packed rows when packing, else examples
    tokens: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class Tokenize:
    """Ray Data actor: loads the tokenizer once, then encodes batches."""

    def __init__(self, model_path: str, template: str, max_length: int) -> None:
        from metamath.train.model import load_tokenizer

        self.tokenizer = load_tokenizer(model_path)
        self.template, self.max_length = template, max_length

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        return encode_batch(batch, self.tokenizer, self.template, self.max_length)


def _read(path: str, on_malformed: str) -> tuple[Any, int, int]:
    """The Ray Dataset of query/response, the row count, and malformed rows skipped."""
    import ray

    from metamath.data.sources import is_plain_jsonl

    records, bad = read_records(path, on_malformed)
    if bad.count or not (path.endswith(".parquet") or is_plain_jsonl(path)):
        # rows skipped, a JSON array (the Hub's MetaMathQA-395K.json) or a byte-order mark:
        # train on the rows our reader checked
        rows = [{"query": r.query, "response": r.response} for r in records]
        return ray.data.from_items(rows), len(records), bad.count
    if path.endswith(".parquet"):
        ds = ray.data.read_parquet(path, columns=["query", "response"])
    else:
        ds = ray.data.read_json(path, lines=True).select_columns(["query", "response"])
    return ds, len(records), 0


def _read_all(paths: list[str], on_malformed: str) -> tuple[Any, int, int]:
    parts = [_read(path, on_malformed) for path in paths]
    ds = parts[0][0] if len(parts) == 1 else parts[0][0].union(*[p[0] for p in parts[1:]])
    return ds, sum(p[1] for p in parts), sum(p[2] for p in parts)


def build_dataset(cfg: TrainConfig, model_path: str, on_malformed: str) -> tuple[Any, DataStats]:
    import ray

    if not cfg.data_path:
        raise ConfigError("train.data_path: not set (a MetaMathQA JSONL or Parquet file, or a list of them)")
    paths = [cfg.data_path] if isinstance(cfg.data_path, str) else list(cfg.data_path)
    ds, source_rows, skipped = _read_all(paths, on_malformed)
    encoded = ds.map_batches(
        Tokenize, fn_constructor_args=(model_path, cfg.template, cfg.max_length),
        batch_size=256, compute=ray.data.ActorPoolStrategy(min_size=1, max_size=2),
    ).materialize()
    flags = encoded.select_columns(["truncated", "dropped", "n_tokens"]).to_pandas()
    from ray.data.expressions import col

    kept = encoded.filter(expr=col("dropped") == False).select_columns(["input_ids", "labels"])  # noqa: E712
    if cfg.packing:
        kept = kept.map_batches(pack_rows, fn_kwargs={"max_length": cfg.max_length}, batch_size=1024)
    kept = (kept.random_shuffle(seed=cfg.seed) if cfg.shuffle else kept).materialize()
    dropped = int(flags["dropped"].sum())
    stats = DataStats(source_rows, skipped, int((flags["truncated"] & ~flags["dropped"]).sum()), dropped,
                      len(flags) - dropped, kept.count(), int(flags["n_tokens"].sum()))
    if not stats.examples:
        raise DataError(f"{', '.join(paths)}: no training example left of {source_rows + skipped} rows: "
                        f"{skipped} malformed (data.on_malformed), {dropped} with no response token within "
                        f"train.max_length={cfg.max_length} tokens (raise it, or shorten the prompts)")
    return kept, stats
