"""A teacher request group: one prompt, K samples, each sample with its own content key.

Rows travel through Ray Data, so messages are kept as a JSON string (Arrow-friendly).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from metamath.config import TeacherConfig


def sampling_params(cfg: TeacherConfig) -> dict[str, Any]:
    params = {"temperature": cfg.temperature, "top_p": cfg.top_p, "max_tokens": cfg.max_tokens}
    if cfg.stop:  # only when set, so that earlier keys (and stored responses) stay valid
        params["stop"] = list(cfg.stop)
    return params


def _prompt_payload(cfg: TeacherConfig, messages_json: str) -> str:
    """The request's canonical JSON without a sample index: backend, model, messages, params."""
    return json.dumps(
        {"backend": cfg.backend, "model": cfg.model, "messages": json.loads(messages_json),
         "params": sampling_params(cfg)},
        sort_keys=True, ensure_ascii=False,
    )


def prompt_key(cfg: TeacherConfig, messages_json: str) -> str:
    """Shared by every sample of one prompt: the store is looked up by it."""
    return hashlib.sha256(_prompt_payload(cfg, messages_json).encode()).hexdigest()


def sample_keys(cfg: TeacherConfig, messages_json: str, indices: list[int]) -> list[str]:
    """Content key of each sample: the prompt payload with `"sample_index": i` added. With sorted
    keys `sample_index` comes last, so one hash of the common prefix serves every sample."""
    return _sample_keys(_prompt_payload(cfg, messages_json), indices)


def _sample_keys(payload: str, indices: list[int]) -> list[str]:
    prefix = hashlib.sha256(payload[:-1].encode())
    keys = []
    for index in indices:
        digest = prefix.copy()
        digest.update(f', "sample_index": {index}}}'.encode())
        keys.append(digest.hexdigest())
    return keys


def request_key(cfg: TeacherConfig, messages_json: str, sample_index: int) -> str:
    """Content key of one sample: backend, model, the full request, the sample index."""
    return sample_keys(cfg, messages_json, [sample_index])[0]


@dataclass
class RequestGroup:
    """K samples of one prompt. `meta` is carried through untouched (method, ids, queries)."""

    messages: str  # JSON: a list of chat messages, or a string = a raw prompt (completion API)
    keys: list[str]
    sample_indices: list[int]
    meta: str = "{}"  # JSON
    prompt_key: str = ""
    # JSON: this group's sampling parameters (temperature, top_p, max_tokens, stop), which its
    # keys hash; a round may mix groups with different ones (evaluate: one round for every
    # benchmark, greedy and sampled), and each backend decodes a group with its own.
    params: str = ""

    def to_row(self) -> dict[str, Any]:
        return {**self.__dict__, "keys": list(self.keys), "sample_indices": list(self.sample_indices)}


def make_group(cfg: TeacherConfig, messages: list[dict[str, str]], samples: int, meta: dict[str, Any],
               first_index: int = 0) -> RequestGroup:
    messages_json = json.dumps(messages, ensure_ascii=False)
    payload = _prompt_payload(cfg, messages_json)  # once for both kinds of key
    indices = list(range(first_index, first_index + samples))
    return RequestGroup(messages_json, _sample_keys(payload, indices), indices, json.dumps(meta, ensure_ascii=False),
                        hashlib.sha256(payload.encode()).hexdigest(), json.dumps(sampling_params(cfg), sort_keys=True))


def with_params(cfg: TeacherConfig, params: str | None) -> TeacherConfig:
    """The round's config with one group's own sampling parameters (`RequestGroup.params`), if any."""
    if not params:
        return cfg
    given = json.loads(params)
    return cfg.model_copy(update={"temperature": given["temperature"], "top_p": given["top_p"],
                                  "max_tokens": given["max_tokens"], "stop": given.get("stop")})


@dataclass
class TeacherResponse:
    """One sample's outcome: the schema every backend returns and the store keeps."""

    key: str
    text: str | None
    status: str  # "ok" or "failed"
    reason: str | None = None  # failure reason, e.g. "http_429", "timeout", "malformed"
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 1  # HTTP requests (or generate calls) attributed to this row
    retries: dict[str, int] = field(default_factory=dict)  # reason -> retried attempts, same attribution
    cached: bool = False
    latency_s: float = 0.0  # request (or generate call) to reply
    finished_at: float = 0.0  # wall-clock time the reply arrived

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["retries"] = json.dumps(self.retries)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "TeacherResponse":
        data = dict(row)
        retries = data.get("retries") or "{}"
        data["retries"] = json.loads(retries) if isinstance(retries, str) else dict(retries)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
