"""Batch API files: request lines in, result lines out (the OpenAI batch format, which
`vllm run-batch` reads too).

Input: one request per sample, `custom_id` = the sample's content key, so a result finds its
sample whatever order the results come back in. A file holds at most `MAX_REQUESTS` lines and
`MAX_BYTES` bytes (the API's limits); each sits beside a `.keys.jsonl` sidecar with every
sample's prompt key (the store files a response under it).
Output: a line per request, `response.body` a chat (or text) completion, or an `error`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Iterator

from metamath import storage
from metamath.config import TeacherConfig
from metamath.generation.requests import TeacherResponse

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
CHAT_URL, TEXT_URL = "/v1/chat/completions", "/v1/completions"


def request_line(cfg: TeacherConfig, key: str, messages_json: str) -> tuple[str, dict[str, Any]]:
    """(endpoint, line) for one sample: chat messages, or a raw prompt for the completions API.
    The body holds what an online request would, with n=1: the sample is its own request."""
    request = json.loads(messages_json)
    body: dict[str, Any] = {"model": cfg.model, "temperature": cfg.temperature, "top_p": cfg.top_p,
                            "max_tokens": cfg.max_tokens}
    if cfg.stop:
        body["stop"] = list(cfg.stop)
    url = TEXT_URL if isinstance(request, str) else CHAT_URL
    body["prompt" if url == TEXT_URL else "messages"] = request
    return url, {"custom_id": key, "method": "POST", "url": url, "body": body}


@dataclass
class InputFile:
    name: str  # e.g. g0-chat-00003: generation, endpoint, sequence
    path: str
    endpoint: str
    requests: int
    generation: int


class InputWriter:
    """Rolls over to a new file at either limit; one series of files per endpoint. For a folder
    on an object store the files are written in a local staging folder and copied there whole
    when closed (before the journal names them)."""

    def __init__(self, folder: str, generation: int, max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES):
        self.folder, self.generation = folder, generation
        self.max_requests, self.max_bytes = max_requests, max_bytes
        self.done: list[InputFile] = []
        self._open: dict[str, tuple[InputFile, Any, Any, int]] = {}  # endpoint -> (file, handle, sidecar, bytes)
        self.staging = tempfile.mkdtemp(prefix="metamath-batch-") if storage.is_uri(folder) else folder
        os.makedirs(self.staging, exist_ok=True)

    def add(self, endpoint: str, line: dict[str, Any], prompt_key: str) -> None:
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
        current = self._open.get(endpoint)
        if current and (current[0].requests >= self.max_requests or current[3] + len(data) > self.max_bytes):
            self._close(endpoint)
            current = None
        if current is None:
            current = self._start(endpoint)
        file, handle, sidecar, size = current
        handle.write(data)
        sidecar.write(json.dumps({"key": line["custom_id"], "prompt_key": prompt_key}) + "\n")
        file.requests += 1
        self._open[endpoint] = (file, handle, sidecar, size + len(data))

    def _start(self, endpoint: str):
        kind = "chat" if endpoint == CHAT_URL else "text"
        sequence = len(self.done) + len(self._open)
        name = f"g{self.generation}-{kind}-{os.getpid()}-{sequence:05d}"
        local = os.path.join(self.staging, f"{name}.jsonl")
        file = InputFile(name, storage.join(self.folder, f"{name}.jsonl"), endpoint, 0, self.generation)
        return file, open(local, "wb"), open(keys_path(local), "w"), 0

    def _close(self, endpoint: str) -> None:
        file, handle, sidecar, _ = self._open.pop(endpoint)
        for f in (handle, sidecar):
            f.flush()
            os.fsync(f.fileno())  # on disk before the state names the file
            f.close()
        if self.staging != self.folder:  # on the object store before the state names the file
            for local in (handle.name, sidecar.name):
                storage.upload(local, storage.join(self.folder, os.path.basename(local)))
                os.remove(local)
        self.done.append(file)

    def close(self) -> list[InputFile]:
        for endpoint in list(self._open):
            self._close(endpoint)
        return self.done


def keys_path(input_path: str) -> str:
    return input_path[: -len(".jsonl")] + ".keys.jsonl"


def read_prompt_keys(input_path: str) -> dict[str, str]:
    return {row["key"]: row["prompt_key"] for row in map(json.loads, storage.text_lines(keys_path(input_path)))}


def read_lines(input_path: str, keys: set[str]) -> Iterator[dict[str, Any]]:
    """The request lines of `keys` (to send again in a new batch)."""
    for line in storage.text_lines(input_path):
        row = json.loads(line)
        if row["custom_id"] in keys:
            yield row


def parse_result(raw: str) -> tuple[str, TeacherResponse]:
    """One output or error line -> (key, response); raises ValueError on a malformed line."""
    row = json.loads(raw)
    key = row.get("custom_id") if isinstance(row, dict) else None
    if not isinstance(key, str) or not key:
        raise ValueError("no custom_id")
    response, error = row.get("response") or {}, row.get("error")
    status = response.get("status_code")
    if error or status != 200:
        code = (error or {}).get("code") if isinstance(error, dict) else None
        return key, TeacherResponse(key, None, "failed", str(code or f"http_{status}"))
    body = response.get("body")
    choice = (body.get("choices") or [None])[0] if isinstance(body, dict) else None
    if not isinstance(choice, dict):
        raise ValueError(f"{key}: response body has no choices")
    text = (choice.get("message") or {}).get("content") if "message" in choice else choice.get("text")
    if not isinstance(text, str):
        raise ValueError(f"{key}: choice without text content")
    usage = body.get("usage") or {}
    return key, TeacherResponse(key, text, "ok", None, choice.get("finish_reason"),
                                int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
