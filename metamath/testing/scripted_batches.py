"""The SCRIPTED server's Batch API: files (upload, retrieve, content) and batches (create,
retrieve, list, cancel), for batch-mode tests. Not a model: replies are the online server's
deterministic texts, so a batch run and an online run can be compared line for line.

A batch moves one state per retrieve: validating -> in_progress -> finalizing -> completed.
Script rules make some batches fail validation or expire (`batch_status`: {"index": i,
"status": "failed"|"expired"}), and some requests land in the error file or come back as a
malformed output line (`batch_faults`: {"every": k, "offset": o, "fault": "error_500"|"malformed",
"attempts": 1}, by the key's hash and how often that key was in a batch). Output lines come in a
shuffled order. Every created batch and every request it processed is logged.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from typing import Any, Callable

from aiohttp import web

STEPS = ["validating", "in_progress", "finalizing", "completed"]


def key_hash(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16)


class BatchAPI:
    def __init__(self, script: Any, log: Callable[[dict], None], reply: Callable[[dict, str], dict]) -> None:
        self.script, self.log, self.reply = script, log, reply
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.seen: dict[str, int] = {}  # key -> batches it was processed in

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/files", self.upload)
        app.router.add_get("/v1/files/{id}", self.file)
        app.router.add_get("/v1/files/{id}/content", self.content)
        app.router.add_post("/v1/batches", self.create)
        app.router.add_get("/v1/batches", self.list)
        app.router.add_get("/v1/batches/{id}", self.retrieve)
        app.router.add_post("/v1/batches/{id}/cancel", self.cancel)

    def _new_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        file_id = f"file-{len(self.files):06d}"
        self.files[file_id] = {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                               "filename": filename, "purpose": purpose, "data": data}
        return self.files[file_id]

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_") and k != "data"}

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        entry = self._new_file(upload.file.read(), upload.filename, str(form.get("purpose")))
        self.log({"event": "file_uploaded", "id": entry["id"], "bytes": entry["bytes"]})
        return web.json_response(self._public(entry))

    async def file(self, request: web.Request) -> web.Response:
        entry = self.files.get(request.match_info["id"])
        return web.json_response(self._public(entry)) if entry else self._missing("file")

    async def content(self, request: web.Request) -> web.Response:
        entry = self.files.get(request.match_info["id"])
        return web.Response(body=entry["data"], content_type="application/octet-stream") if entry else self._missing("file")

    @staticmethod
    def _missing(what: str) -> web.Response:
        return web.json_response({"error": {"message": f"no such {what}"}}, status=404)

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        source = self.files.get(body.get("input_file_id"))
        if source is None:
            return self._missing("input file")
        lines = [json.loads(line) for line in source["data"].decode().splitlines() if line.strip()]
        batch_id = f"batch-{len(self.batches):06d}"
        batch = {"id": batch_id, "object": "batch", "endpoint": body["endpoint"], "input_file_id": source["id"],
                 "completion_window": body.get("completion_window"), "status": "validating",
                 "created_at": int(time.time()), "output_file_id": None, "error_file_id": None, "errors": None,
                 "metadata": body.get("metadata"), "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                 "_lines": lines, "_index": len(self.batches)}
        self.batches[batch_id] = batch
        self.log({"event": "batch_created", "id": batch_id, "lines": len(lines),
                  "keys": [line["custom_id"] for line in lines]})
        return web.json_response(self._public(batch))

    async def retrieve(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return self._missing("batch")
        self._advance(batch)
        return web.json_response(self._public(batch))

    async def list(self, request: web.Request) -> web.Response:
        newest_first = sorted(self.batches.values(), key=lambda b: b["_index"], reverse=True)
        after, limit = request.query.get("after"), int(request.query.get("limit", 20))
        if after in self.batches:
            newest_first = [b for b in newest_first if b["_index"] < self.batches[after]["_index"]]
        page = newest_first[:limit]
        return web.json_response({"object": "list", "data": [self._public(b) for b in page],
                                  "first_id": page[0]["id"] if page else None,
                                  "last_id": page[-1]["id"] if page else None, "has_more": len(newest_first) > limit})

    async def cancel(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return self._missing("batch")
        if batch["status"] not in ("completed", "failed", "expired", "cancelled"):
            batch["status"] = "cancelling"
        self.log({"event": "batch_cancelled", "id": batch["id"]})
        return web.json_response(self._public(batch))

    def _advance(self, batch: dict[str, Any]) -> None:
        status = batch["status"]
        if status == "cancelling":
            return self._finish(batch, "cancelled")
        if status not in STEPS or status == "completed":
            return None
        outcome = next((r["status"] for r in self.script.batch_status if r["index"] == batch["_index"]), None)
        if status == "validating" and outcome == "failed":
            batch.update(status="failed", errors={"object": "list", "data": [
                {"code": "invalid_request", "message": "scripted validation failure", "line": 1}]})
            self.log({"event": "batch_failed", "id": batch["id"]})
            return None
        following = STEPS[STEPS.index(status) + 1]
        if following == "completed":
            return self._finish(batch, "expired" if outcome == "expired" else "completed")
        batch["status"] = following
        return None

    def _finish(self, batch: dict[str, Any], status: str) -> None:
        outputs, errors = [], []
        for number, line in enumerate(batch["_lines"]):
            key = line["custom_id"]
            if status == "cancelled" or (status == "expired" and number % 2):
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                errors.append({"id": f"req-{number}", "custom_id": key, "response": None,
                               "error": {"code": code, "message": f"request {code[6:]}"}})
                self.log({"event": "batch_line", "batch": batch["id"], "key": key, "status": code})
                continue
            self.seen[key] = attempt = self.seen.get(key, 0) + 1
            fault = self._fault(key, attempt)
            self.log({"event": "batch_line", "batch": batch["id"], "key": key, "status": fault or "ok"})
            if fault == "error_500":
                errors.append({"id": f"req-{number}", "custom_id": key, "error": None, "response": {
                    "status_code": 500, "request_id": f"r{number}", "body": {"error": {"message": "boom"}}}})
                continue
            result = {"id": f"req-{number}", "custom_id": key, "error": None, "response": {
                "status_code": 200, "request_id": f"r{number}", "body": self.reply(line["body"], key)}}
            outputs.append('{"id": "req-' + str(number) + '", "custom_id": "' + key + '", "response": {"bro'
                           if fault == "malformed" else json.dumps(result))
        random.Random(batch["_index"]).shuffle(outputs)
        if outputs:
            batch["output_file_id"] = self._new_file(("\n".join(outputs) + "\n").encode(), "output.jsonl",
                                                     "batch_output")["id"]
        if errors:
            batch["error_file_id"] = self._new_file("".join(json.dumps(e) + "\n" for e in errors).encode(),
                                                    "errors.jsonl", "batch_output")["id"]
        ok = sum(1 for line in outputs if line.endswith("}"))
        batch["request_counts"] = {"total": len(batch["_lines"]), "completed": ok, "failed": len(batch["_lines"]) - ok}
        batch["status"] = status

    def _fault(self, key: str, attempt: int) -> str | None:
        for rule in self.script.batch_faults:
            if key_hash(key) % rule["every"] == rule.get("offset", 0) and attempt <= rule.get("attempts", 1):
                return rule["fault"]
        return None


def question_of(body: dict[str, Any]) -> list[dict]:
    """The messages a batch request body asks (a raw prompt: its Alpaca instruction)."""
    if "messages" in body:
        return body["messages"]
    found = re.search(r"### Instruction:\n(.*?)\n\n### Response:", body["prompt"], re.S)
    return [{"role": "user", "content": found.group(1) if found else body["prompt"]}]
