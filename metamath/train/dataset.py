"""MetaMathQA -> a tokenised Ray Dataset for Ray Train.

The file is checked row by row first (so a bad row is reported as file:line, and an
empty file or missing field stops the job before any worker starts); then Ray Data
reads it, tokenises in `map_batches` on an actor pool, optionally packs, and the result
is materialised once so that training workers never wait on tokenisation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pyarrow.fs as pafs

from metamath import storage
from metamath.config.schema import TrainConfig
from metamath.errors import ConfigError, DataError
from metamath.records.io import read_records
from metamath.train.collate import pack_rows
from metamath.train.examples import encode_batch
from metamath.train.selection import Selection, is_selective, select_records


@dataclass(frozen=True)
class DataStats:
    source_rows: int
    skipped_malformed: int
    truncated: int
    dropped_no_target: int
    examples: int
    train_rows: int  # packed rows when packing, else examples
    tokens: int
    selection: dict[str, int] | None = None  # train.types / fraction / max_rows: what was kept

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Tokenize:
    """Ray Data actor: loads the tokenizer once, then encodes batches."""

    def __init__(self, model: str, template: str, max_length: int) -> None:
        from metamath.models import resolve_model
        from metamath.train.model import load_tokenizer

        self.tokenizer = load_tokenizer(resolve_model(model, tokenizer_only=True))  # on this worker's node
        self.template, self.max_length = template, max_length

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        return encode_batch(batch, self.tokenizer, self.template, self.max_length)


def _from_records(records: list) -> Any:
    import ray

    return ray.data.from_items([{"query": r.query, "response": r.response} for r in records])


def _read(path: str, on_malformed: str) -> tuple[Any, list, int]:
    """The Ray Dataset of query/response, the rows checked, and malformed rows skipped."""
    import ray

    from metamath.data.sources import is_plain_jsonl

    records, bad = read_records(path, on_malformed)
    inner, fs = storage.for_ray(path)
    native = not isinstance(fs, pafs.PyFileSystem)  # Ray Data's JSON-lines reader resolves the URI itself
    if bad.count or not (path.endswith(".parquet") or (native and is_plain_jsonl(path))):
        # rows skipped, a JSON array (the Hub's MetaMathQA-395K.json), a byte-order mark, or an
        # fsspec filesystem: train on the rows our reader checked
        return _from_records(records), records, bad.count
    if path.endswith(".parquet"):
        ds = ray.data.read_parquet(inner, filesystem=fs, columns=["query", "response"])
    else:
        ds = ray.data.read_json(storage.absolute(path), lines=True).select_columns(["query", "response"])
    return ds, records, 0


def _read_all(paths: list[str], cfg: TrainConfig, on_malformed: str) -> tuple[Any, int, int, Selection | None]:
    """Every file's rows, or the slice `cfg` asks for (train.types / fraction / max_rows)."""
    parts = [_read(path, on_malformed) for path in paths]
    records = [r for part in parts for r in part[1]]
    skipped = sum(part[2] for part in parts)
    if is_selective(cfg):
        chosen, selection = select_records(records, cfg)
        if not chosen:
            raise DataError(f"{', '.join(paths)}: train.types={cfg.types}, fraction={cfg.fraction}, max_rows="
                            f"{cfg.max_rows}, include_original={cfg.include_original} leave no row of "
                            f"{len(records)} ({selection.augmented_in_file} augmented, "
                            f"{selection.originals_in_file} original solutions)")
        return _from_records(chosen), len(records), skipped, selection
    ds = parts[0][0] if len(parts) == 1 else parts[0][0].union(*[p[0] for p in parts[1:]])
    return ds, len(records), skipped, None


def build_dataset(cfg: TrainConfig, model_path: str, on_malformed: str) -> tuple[Any, DataStats]:
    import ray

    if not cfg.data_path:
        raise ConfigError("train.data_path: not set (a MetaMathQA JSONL or Parquet file, or a list of them)")
    paths = [cfg.data_path] if isinstance(cfg.data_path, str) else list(cfg.data_path)
    ds, source_rows, skipped, selection = _read_all(paths, cfg, on_malformed)
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
                      len(flags) - dropped, kept.count(), int(flags["n_tokens"].sum()),
                      selection.to_dict() if selection else None)
    if not stats.examples:
        raise DataError(f"{', '.join(paths)}: no training example left of {source_rows + skipped} rows: "
                        f"{skipped} malformed (data.on_malformed), {dropped} with no response token within "
                        f"train.max_length={cfg.max_length} tokens (raise it, or shorten the prompts)")
    return kept, stats


def persist_tokenized(ds: Any, output_dir: str) -> Any:
    """The tokenized rows written under `output_dir/tokenized/` and read back from there. Ray Train
    reads its dataset anew at every (re)start: from storage, a worker group restarted after a lost
    node finds every row, where object-store blocks would have gone down with that node (their
    producers, the tokenizer actors, are gone and cannot rebuild them). Files are read in name
    order, so a resumed epoch sees the rows it skips in the same order. A small set is read by the
    driver into its own node's object store (which the job cannot outlive); reading a large one
    asks half a CPU a task, beside workers that may hold most of a node."""
    from metamath.ray_data import read_parquet_files, write_parquet
    from metamath.ray_utils import LIGHT_CPUS

    folder = storage.join(output_dir, "tokenized")
    storage.clear_folder(folder)
    write_parquet(ds, folder)
    fs, files = storage.resolve_many(storage.list_files(folder, ".parquet"))
    return read_parquet_files(fs, files, ray_remote_args={"num_cpus": LIGHT_CPUS})
