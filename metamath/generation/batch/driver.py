"""`teacher.mode: batch`: a round's missing samples through the provider's Batch API (half price,
results within `batch_window`), merged into the same content-keyed store as online replies.

    journal on record -> upload -> create batch (id journaled) -> poll -> download -> store
                                         failed, expired, malformed: a new batch, up to max_retries

Every step is journaled before the next (batch_state.py), so a crash or Ctrl-C costs nothing: the
next run re-attaches to the batches on record before it looks for missing samples, and never
creates a batch twice. With `submit_only`, the run stops once its batches are created.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from metamath import storage
from metamath.config import TeacherConfig
from metamath.errors import MetaMathError, SubmittedOnly
from metamath.generation.batch.files import InputWriter, parse_result, read_lines, read_prompt_keys
from metamath.generation.batch.state import BatchJournal, FileState

CUSTOM_ID = re.compile(r'"custom_id"\s*:\s*"([^"]+)"')
TERMINAL = {"completed", "failed", "expired", "cancelled"}
POLL_CAP_FACTOR = 10  # polls back off from batch_poll_s to 10x it


@dataclass
class BatchTally:
    """What went by batch in this run: sent = succeeded + retried + failed (by reason)."""

    sent: int = 0
    succeeded: int = 0
    retried: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)  # given up on after max_retries
    prompt_tokens: int = 0
    completion_tokens: int = 0
    malformed_lines: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # key -> reason, the samples given up on


def endpoint_record(folder: str, cfg: TeacherConfig) -> None:
    """Where the batches live, for `metamath batches` (the key's variable name, never the key)."""
    storage.write_text(storage.join(folder, "endpoint.json"),
                       json.dumps({"base_url": cfg.base_url, "api_key_env": cfg.api_key_env, "model": cfg.model}))


def client_for(base_url: str | None, api_key_env: str | None):
    from openai import OpenAI

    from metamath.generation.backends.openai_backend import api_key

    return OpenAI(base_url=base_url, api_key=api_key(api_key_env), max_retries=5, timeout=120)


class BatchDriver:
    """Drives one round's batch files to the store; `failed` collects the keys to send again."""

    def __init__(self, cfg: TeacherConfig, folder: str, store_root: str, run_tag: str,
                 submit_only: bool = False) -> None:
        self.cfg, self.folder, self.store_root, self.run_tag = cfg, folder, store_root, run_tag
        self.submit_only = submit_only  # `augment --submit-only`: stop once the batches are created
        self.journal = BatchJournal(folder)
        self.client = client_for(cfg.base_url, cfg.api_key_env)
        self.tally = BatchTally()
        self.failed: dict[str, tuple[str, str]] = {}  # key -> (reason, input file it was in)
        self.submitted = 0  # requests in the batches this run created (teacher.max_requests)
        endpoint_record(storage.parent(folder), cfg)

    def resume(self) -> None:
        """Every file on record, from a crashed, interrupted or `--submit-only` run: collected."""
        self.drive(self.journal.open_files())
        self.retry(first_generation=self.journal.generation())

    def send(self, samples: Iterable[dict[str, Any]]) -> None:
        """New samples (key, messages, prompt_key) as batches of a new generation, then retried."""
        from metamath.generation.batch.files import request_line

        generation = self.journal.generation() + 1
        writer = InputWriter(self.folder, generation, self.cfg.batch_max_requests, self.cfg.batch_max_bytes)
        for sample in samples:
            endpoint, line = request_line(self.cfg, sample["key"], sample["messages_json"])
            writer.add(endpoint, line, sample["prompt_key"])
        files = [self.journal.add_file(f) for f in writer.close()]
        self.drive(files)
        self.retry(first_generation=generation)

    def retry(self, first_generation: int) -> None:
        """Failed, expired and malformed requests in new batches until max_retries is spent."""
        while self.failed:
            generation = self.journal.generation() + 1
            if generation - max(first_generation, 0) > self.cfg.max_retries:
                for key, (reason, _) in self.failed.items():
                    self.tally.failed[reason] = self.tally.failed.get(reason, 0) + 1
                    self.tally.failures[key] = reason
                self.failed = {}
                return
            failed, self.failed = self.failed, {}
            for reason, _ in failed.values():
                self.tally.retried[reason] = self.tally.retried.get(reason, 0) + 1
            self.drive(self._resend(failed, generation))

    def _resend(self, failed: dict[str, tuple[str, str]], generation: int) -> list[FileState]:
        writer = InputWriter(self.folder, generation, self.cfg.batch_max_requests, self.cfg.batch_max_bytes)
        by_file: dict[str, set[str]] = {}
        for key, (_, path) in failed.items():
            by_file.setdefault(path, set()).add(key)
        for path, keys in by_file.items():
            prompt_keys = read_prompt_keys(path)
            for line in read_lines(path, keys):
                writer.add(line["url"], line, prompt_keys[line["custom_id"]])
        return [self.journal.add_file(f) for f in writer.close()]

    def drive(self, files: list[FileState]) -> None:
        from metamath.generation.batch.progress import BatchProgress

        if not files:  # nothing on record or to send: no empty progress bar
            return
        waiting, live = list(files), []
        delay = self.cfg.batch_poll_s
        with BatchProgress(sum(f.requests for f in files)) as progress:
            while waiting or live:
                while waiting and len(live) < self.cfg.max_batches_in_flight:
                    state = waiting.pop(0)
                    if state.batch_id or self._affordable(state, live):
                        live.append(self._submit(state))
                    else:
                        self._hold_back(state)
                live = self._poll(live, progress)
                if self.submit_only and (waiting or live):
                    raise SubmittedOnly(self._pending_message(waiting, live))
                if live:
                    time.sleep(delay)
                    delay = min(delay * 2, self.cfg.batch_poll_s * POLL_CAP_FACTOR)

    def _submit(self, state: FileState) -> FileState:
        if state.batch_id:
            return state
        # An upload on record may already have its batch (the crash fell between create and
        # journal): looked up only then, not for every fresh upload.
        existing = self._batch_of(state.file_id) if state.file_id else None
        if not state.file_id:
            uploaded = self.client.files.create(file=(storage.name(state.path), storage.read_bytes(state.path)),
                                                purpose="batch")
            self.journal.update(state, file_id=uploaded.id)
        batch = existing or self.client.batches.create(
            input_file_id=state.file_id, endpoint=state.endpoint, completion_window=self.cfg.batch_window,
            metadata={"metamath_file": state.name})
        self.submitted += state.requests
        self.journal.update(state, batch_id=batch.id, status=batch.status)
        return state

    def _bound_usd(self, state: FileState) -> float:
        """The most a batch file can cost: a token per byte of its lines, max_tokens per request."""
        from metamath.generation.budget import cost_usd

        size = storage.size(state.path)
        return cost_usd(self.cfg.price_per_million, size, state.requests * self.cfg.max_tokens) * self.cfg.batch_discount

    def _affordable(self, state: FileState, live: list[FileState]) -> bool:
        """The run's budget covers this batch at its upper bound, beside what was collected and
        every batch still in flight at theirs (checked before each batch is created)."""
        from metamath.generation.budget import cost_usd

        cap, most = self.cfg.max_cost_usd, self.cfg.max_requests
        if most is not None and self.submitted + state.requests > most:
            return False
        if cap is None:
            return True
        spent = cost_usd(self.cfg.price_per_million, self.tally.prompt_tokens, self.tally.completion_tokens) * self.cfg.batch_discount
        return spent + sum(self._bound_usd(f) for f in live) + self._bound_usd(state) <= cap

    def _hold_back(self, state: FileState) -> None:
        """Not created: its samples are not sent this run (reason `budget`); the file is closed on
        record, so a later run asks for them afresh from the store's lookup, never twice."""
        for key in read_prompt_keys(state.path):
            self.tally.failures[key] = "budget"
        self.journal.update(state, collected=True, status="held_back_by_budget")

    def _batch_of(self, file_id: str):
        """A batch already made from this upload (the crash fell between create and journal)."""
        for batch in self.client.batches.list(limit=100):
            if batch.input_file_id == file_id:
                return batch
        return None

    def _poll(self, live: list[FileState], progress) -> list[FileState]:
        still = []
        for state in live:
            batch = self.client.batches.retrieve(state.batch_id)
            if batch.status != state.status:
                self.journal.update(state, status=batch.status)
            progress.update(state.name, batch.request_counts)
            if batch.status in TERMINAL:
                self._collect(state, batch)
            else:
                still.append(state)
        return still

    def _collect(self, state: FileState, batch) -> None:
        """A finished batch's results into the store (a journal file of its own, closed before
        the store is compacted again), then journaled as collected."""
        from metamath.generation.cache.store import StoreWriter

        prompt_keys = read_prompt_keys(state.path)
        answered: set[str] = set()
        writer = StoreWriter(self.store_root, self.run_tag)
        try:
            for file_id, kind in ((batch.output_file_id, "output"), (batch.error_file_id, "errors")):
                if file_id:
                    path = self._download(file_id, state, kind)
                    answered |= self._read_results(state, path, prompt_keys, writer)
        finally:
            writer.close()
        reason = "missing" if batch.status == "completed" else f"batch_{batch.status}"
        for key in prompt_keys.keys() - answered:
            self.failed[key] = (reason, state.path)
        self.tally.sent += state.requests
        self.journal.update(state, collected=True)

    def _download(self, file_id: str, state: FileState, kind: str) -> str:
        path = storage.join(self.folder, f"{state.name}.{kind}.jsonl")
        storage.write_bytes(path, self.client.files.content(file_id).content)
        return path

    def _read_results(self, state: FileState, path: str, prompt_keys: dict[str, str], writer) -> set[str]:
        import logging

        answered = set()
        for number, raw in enumerate(storage.text_lines(path), 1):
            if not raw.strip():
                continue
            try:
                key, response = parse_result(raw)
                if key not in prompt_keys:
                    raise ValueError(f"custom_id {key[:16]} was not in {storage.name(state.path)}")
            except (ValueError, TypeError, AttributeError) as exc:
                self.tally.malformed_lines += 1
                logging.getLogger("metamath").warning("%s: line %d: %s (its sample is sent again)", path, number, exc)
                found = CUSTOM_ID.search(raw)  # whose line it was, if that much is readable
                if found and found.group(1) in prompt_keys and found.group(1) not in answered:
                    answered.add(found.group(1))
                    self.failed[found.group(1)] = ("malformed", state.path)
                continue
            if key in answered:
                continue
            answered.add(key)
            if response.status == "ok":
                writer.append(response, prompt_keys[key])
                self.tally.succeeded += 1
                self.tally.prompt_tokens += response.prompt_tokens
                self.tally.completion_tokens += response.completion_tokens
            else:
                self.failed[key] = (response.reason or "failed", state.path)
        return answered

    def _pending_message(self, waiting: list[FileState], live: list[FileState]) -> str:
        requests = sum(f.requests for f in waiting + live)
        return (f"{len(live)} batch(es) in flight and {len(waiting)} file(s) not yet submitted ({requests} requests) "
                f"under {self.folder}; check on them with `metamath batches {storage.parent(storage.parent(self.folder))}`, "
                "and run the same command without --submit-only to collect them and go on")

    def as_run(self):
        """The batch side of the round's accounting (its rows carry the samples and tokens)."""
        from metamath.generation.accounting import RoundAccount

        t = self.tally
        return RoundAccount(sent=t.sent, succeeded=t.succeeded, retried=dict(t.retried), failed=dict(t.failed),
                          batch_sent=t.sent, batch_prompt_tokens=t.prompt_tokens,
                          batch_completion_tokens=t.completion_tokens)

    def given_up(self, groups):
        """The samples still missing after every retry, as failed rows: nothing goes online."""
        from metamath.ray_utils import LIGHT_CPUS
        from metamath.generation.backends.vllm_backend import expand_samples

        return groups.flat_map(expand_samples, num_cpus=LIGHT_CPUS).map(
            given_up_row, fn_kwargs={"reasons": dict(self.tally.failures)}, num_cpus=LIGHT_CPUS)

    def close(self) -> None:
        self.client.close()


def given_up_row(row: dict[str, Any], reasons: dict[str, str]) -> dict[str, Any]:
    from metamath.generation.requests import TeacherResponse

    response = TeacherResponse(row["key"], None, "failed", reasons.get(row["key"], "not_collected"), attempts=0)
    return {**response.to_row(), "meta": row["meta"], "sample_index": int(row["sample_index"]),
            "prompt_key": row.get("prompt_key", ""), "fanout": row.get("fanout") or "{}"}


def check_batch_mode(cfg: TeacherConfig) -> None:
    if cfg.mode == "batch" and cfg.backend != "openai":
        raise MetaMathError(f"teacher.mode: batch needs teacher.backend: openai (got {cfg.backend}); "
                            "a local engine takes the same files offline: see docs/augment.md (vllm run-batch)")
