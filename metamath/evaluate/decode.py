"""One benchmark's items decoded through the generation layer's store, each completion scored."""

from __future__ import annotations

from metamath import storage
from metamath.config.schema import EvaluateConfig
from metamath.evaluate.requests import problem_group
from metamath.evaluate.results import SORT_IN_ONE_TASK_ROWS, prediction_batch
from metamath.generation.round import run_round
from metamath.ray_data import read_shards, write_parquet
from metamath.ray_utils import LIGHT_CPUS
from metamath.storage import clear_folder


def decode_and_score(cfg: EvaluateConfig, benchmark: str, items, decoder, out: str, run_tag: str,
                     folder: str = "decode", samples: int = 1):
    """Decode every item (`samples` completions each) through the store into work/<benchmark>/
    <folder>, then score each completion into <folder>_predictions, sorted by item and sample.
    Returns (the decode round, the scored folder, whether any completion came back)."""
    groups = items.map(problem_group, fn_kwargs={"cfg": cfg, "decoder": decoder, "samples": samples},
                       num_cpus=LIGHT_CPUS)
    work = storage.join(out, "work", benchmark)
    label = f"{benchmark}: decoding" if samples == 1 else f"{benchmark}: {samples} samples each"
    decoded = run_round(groups, decoder, storage.join(out, "responses"), storage.join(work, folder), label, run_tag,
                        chat=cfg.prompt == "chat")
    scored = storage.join(work, f"{folder}_predictions")
    clear_folder(scored)
    rows = read_shards(decoded.path)
    if rows is None:
        return decoded, scored, False
    scored_rows = rows.map_batches(prediction_batch, fn_kwargs={"benchmark": benchmark, "prompt": cfg.prompt},
                                   batch_format="pyarrow", batch_size=64)
    if decoded.rows > SORT_IN_ONE_TASK_ROWS:  # else the reader sorts (sorted_rows)
        scored_rows = scored_rows.sort(["index", "sample_index"])
    write_parquet(scored_rows, scored)
    return decoded, scored, True
