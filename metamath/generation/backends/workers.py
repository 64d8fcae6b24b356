"""Ray Data callable classes, one per backend. In: request-group rows. Out: one row per
sample (the TeacherResponse schema plus the group's `meta` and `sample_index`). Every
response is written to the store as soon as it exists."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import pandas as pd

from metamath.config import TeacherConfig
from metamath.generation.requests import TeacherResponse, with_params
from metamath.generation.cache.store import StoreWriter, journaled_responses


def _out_rows(groups: list[dict], responses_by_key: dict[str, TeacherResponse]) -> pd.DataFrame:
    rows = []
    for group in groups:
        for key, index in zip(group["keys"], group["sample_indices"]):
            response = responses_by_key[key]
            rows.append({**response.to_row(), "meta": group["meta"], "sample_index": int(index),
                         "prompt_key": group.get("prompt_key", ""), "fanout": group.get("fanout") or "{}"})
    return pd.DataFrame(rows)


def _prompt_keys(groups: list[dict]) -> dict[str, str]:
    return {key: group.get("prompt_key", "") for group in groups for key in group["keys"]}


def _groups(batch: pd.DataFrame) -> list[dict]:
    groups = batch.to_dict("records")
    for group in groups:
        group["keys"] = list(group["keys"])
        group["sample_indices"] = list(group["sample_indices"])
    return groups


async def _flushed(store: StoreWriter) -> None:
    store.flush()


class OpenAIWorker:
    """Ray Data may call this from several threads at once (`max_concurrent_calls_per_actor`):
    every call only submits its coroutines to the one event loop, where the runner, the permit
    client and the store writer live, so none of them is touched by two threads."""

    def __init__(self, cfg: dict, limiter: Any, store_root: str, run: str = "") -> None:
        from metamath.generation.cache.ledger import Ledger
        from metamath.generation.backends.openai_backend import LoopThread, OpenAIGroupRunner

        self.store = StoreWriter(store_root, run)
        self.ledger = Ledger(store_root, run)
        # Restarted after a death: the batch it died in runs again, and what the dead worker
        # had already stored is handed back instead of being bought a second time.
        restarted = self.ledger.started()
        self.recovered = journaled_responses(store_root, run) if restarted else {}
        if restarted:  # the permits the dead one held would otherwise be gone from the job for good
            import ray

            ray.get(limiter.reclaim.remote(self.ledger.actor, self.ledger.owner))
        self.loop = LoopThread()
        self.runner = OpenAIGroupRunner(TeacherConfig(**cfg), limiter, self._store, self.ledger.sent,
                                        owner=self.ledger.owner)
        self.prompt_of: dict[str, str] = {}

    def _store(self, response: TeacherResponse) -> None:
        self.store.append(response, self.prompt_of.pop(response.key, ""))

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        groups = _groups(batch)
        found = {k: self.recovered.pop(k) for g in groups for k in g["keys"] if k in self.recovered}
        self.prompt_of.update({k: p for k, p in _prompt_keys(groups).items() if k not in found})
        todo = [(g["messages"], [k for k in g["keys"] if k not in found], g.get("params") or "") for g in groups]

        async def run_all():
            return await asyncio.gather(*(self.runner.run_group(messages, keys, params)
                                          for messages, keys, params in todo if keys))

        results = self.loop.run(run_all())
        self.loop.run(_flushed(self.store))  # on the loop that writes: on the store before handed on
        return _out_rows(groups, {**found, **{r.key: r for group in results for r in group}})


def _generate_calls(groups: list[dict], size: int) -> list[tuple[str, list[tuple[str, Any]]]]:
    """(params, up to `size` samples) per generate call: samples whose groups share sampling
    parameters (and prompt kind) go together, in the order they came."""
    by_params: dict[tuple[str, bool], list[tuple[str, Any]]] = {}
    for group in groups:
        messages = json.loads(group["messages"])
        jobs = by_params.setdefault((group.get("params") or "", isinstance(messages, str)), [])
        jobs += [(key, messages) for key in group["keys"]]
    return [(params, jobs[start: start + size]) for (params, _), jobs in by_params.items()
            for start in range(0, len(jobs), size)]


class HFWorker:
    """transformers generation in batches (the CPU dev mode): the same rows as the API."""

    def __init__(self, cfg: dict, store_root: str, run: str = "", threads: int | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from metamath.models import resolve_model
        from metamath.generation.cache.ledger import Ledger

        self.cfg = TeacherConfig(**cfg)
        self.threads = threads or os.cpu_count() or 1
        path = resolve_model(self.cfg.model)
        self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = "cuda" if self.cfg.use_gpu else "cpu"
        dtype = torch.bfloat16 if self.cfg.use_gpu else torch.float32  # bf16 is ~4x slower on CPU
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(self.device).eval()
        self.store = StoreWriter(store_root, run)
        Ledger(store_root, run).started()  # restarts are named in the stats

    def _generate(self, prompts: list[str], seed: int, raw: bool, cfg: TeacherConfig) -> list[tuple[str, int, int, str]]:
        import torch

        # Per call: the OpenMP thread count belongs to the calling thread, and Ray Data runs the
        # UDF on another thread than the constructor (measured: one core busy, not two).
        torch.set_num_threads(self.threads)
        # A raw prompt is tokenised as vLLM does (with the tokenizer's BOS); a chat template has its own.
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=raw).to(self.device)
        torch.manual_seed(seed)
        sample = cfg.temperature > 0
        stop = {"stop_strings": cfg.stop, "tokenizer": self.tokenizer} if cfg.stop else {}
        with torch.no_grad():
            out = self.model.generate(
                **enc, max_new_tokens=cfg.max_tokens, do_sample=sample,
                temperature=cfg.temperature if sample else None, top_p=cfg.top_p if sample else None,
                pad_token_id=self.tokenizer.pad_token_id, **stop,
            )
        return [self._decode(row.tolist(), int(mask.sum()), cfg.stop) for row, mask in
                zip(out[:, enc["input_ids"].shape[1]:], enc["attention_mask"])]

    def _decode(self, ids: list[int], prompt_tokens: int, stops: list[str] | None) -> tuple[str, int, int, str]:
        """Text up to EOS or the first stop string (excluded, as vLLM and the API do)."""
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        finish = "stop" if eos in ids else "length"
        ids = ids[: ids.index(eos) + 1] if eos in ids else ids
        while ids and ids[-1] == pad and pad != eos:
            ids.pop()
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        cuts = [text.find(s) for s in (stops or []) if s in text]
        if cuts:
            text, finish = text[: min(cuts)], "stop"
        return text, prompt_tokens, len(ids), finish

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        groups = _groups(batch)
        prompt_of = _prompt_keys(groups)
        responses: dict[str, TeacherResponse] = {}
        for params, chunk in _generate_calls(groups, self.cfg.batch_size):
            raw = isinstance(chunk[0][1], str)
            prompts = [m if raw else self.tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
                       for _, m in chunk]
            seed = int(chunk[0][0][:8], 16)  # the same chunk always samples the same way
            started = time.monotonic()
            outputs = self._generate(prompts, seed, raw, with_params(self.cfg, params))
            latency, now = time.monotonic() - started, time.time()
            for (key, _), (text, p_tok, c_tok, finish) in zip(chunk, outputs):
                response = TeacherResponse(key, text, "ok", None, finish, p_tok, c_tok, latency_s=latency, finished_at=now)
                self.store.append(response, prompt_of[key])
                responses[key] = response
        self.store.flush()
        return _out_rows(groups, responses)
