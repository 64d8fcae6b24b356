"""Every benchmark of an evaluate run in one round of the generation layer, so that the model's
engines start once per run: each item's greedy request and (`evaluate.samples` > 1) its sampled
one carry their own max_tokens, stop strings and temperature (RequestGroup.params). Then every
completion is scored in one pass, into one folder per benchmark and pass."""

from __future__ import annotations

from typing import Any

from metamath import storage
from metamath.config.schema import EvaluateConfig, TeacherConfig
from metamath.data.benchmarks import Problem
from metamath.evaluate.requests import decoder_config, render
from metamath.evaluate.results import SORT_IN_ONE_TASK_ROWS, prediction_batch
from metamath.generation.requests import make_group
from metamath.generation.round import Round, run_round
from metamath.ray_data import read_shards, write_parquet
from metamath.ray_utils import LIGHT_CPUS
from metamath.storage import clear_folder

GREEDY, SAMPLED = "greedy", "sampled"  # the two passes over a benchmark's items


def item_groups(row: dict[str, Any], cfg: EvaluateConfig, decoders: dict[str, TeacherConfig],
                samplers: dict[str, TeacherConfig]) -> list[dict[str, Any]]:
    """Ray Data `flat_map` body: a benchmark item -> its greedy request group and, with samplers,
    its sampled one. The meta carries what scoring needs; it is not part of a request's key."""
    problem = Problem(**{name: row.get(name) for name in Problem.__dataclass_fields__})
    benchmark, prompt = row["benchmark"], render(problem, cfg.prompt)
    meta = {"id": problem.id, "index": int(row["index"]), "question": problem.question, "gold": problem.gold,
            "subject": problem.subject, "level": problem.level, "benchmark": benchmark, "pass": GREEDY}
    groups = [make_group(decoders[benchmark], prompt, 1, meta).to_row()]
    if benchmark in samplers:
        groups.append(make_group(samplers[benchmark], prompt, cfg.samples, {**meta, "pass": SAMPLED}).to_row())
    return groups


def round_decoder(cfg: EvaluateConfig) -> TeacherConfig:
    """The round's own config: the engine keys, and the largest max_tokens of its benchmarks (each
    request still carries its own; this one bounds the budget and sizes the batches)."""
    return max((decoder_config(cfg, name) for name in cfg.benchmarks), key=lambda decoder: decoder.max_tokens)


def decode_all(cfg: EvaluateConfig, items, out: str, run_id: str) -> Round:
    """Every item of every benchmark (`items`: rows with `benchmark` and `index`), greedy and
    sampled, through the store in one round: what the store holds is not decoded again."""
    decoders = {name: decoder_config(cfg, name) for name in cfg.benchmarks}
    samplers = {name: decoder_config(cfg, name, sampled=True) for name in cfg.benchmarks} if cfg.samples > 1 else {}
    groups = items.flat_map(item_groups, fn_kwargs={"cfg": cfg, "decoders": decoders, "samplers": samplers},
                            num_cpus=LIGHT_CPUS)
    label = f"decoding {', '.join(cfg.benchmarks)}" + (f" (+{cfg.samples} samples each)" if samplers else "")
    return run_round(groups, round_decoder(cfg), storage.join(out, "responses"), storage.join(out, "work", "decode"),
                     label, f"{run_id}:decode", chat=cfg.prompt == "chat")


def score_all(cfg: EvaluateConfig, decoded: Round, out: str) -> str:
    """Every completion scored, written under work/scored/benchmark=<name>/pass=<greedy|sampled>/,
    each folder's rows readable in (index, sample_index) order (results.sorted_rows)."""
    scored = storage.join(out, "work", "scored")
    clear_folder(scored)
    rows = read_shards(decoded.path)
    if rows is not None:
        scored_rows = rows.map_batches(prediction_batch, fn_kwargs={"prompt": cfg.prompt}, batch_format="pyarrow",
                                       batch_size=64)
        if decoded.rows > SORT_IN_ONE_TASK_ROWS:  # else each folder's reader sorts its rows
            scored_rows = scored_rows.sort(["benchmark", "pass", "index", "sample_index"])
        write_parquet(scored_rows, scored, partition_cols=["benchmark", "pass"])
    return scored


def scored_folder(scored: str, benchmark: str, which: str) -> str:
    return storage.join(scored, f"benchmark={benchmark}", f"pass={which}")
