"""A SCRIPTED OpenAI-compatible server for fault and throughput tests, not a model.

Replies are deterministic functions of the request; latency is fixed; faults are injected by
rule on a request's first attempts (429 with Retry-After, 500, a hang past the client's
timeout, a malformed body). Every request is logged as a JSON line (with the client's
X-MetaMath-Keys header), so tests can prove that nothing was sent twice.

    python -m metamath.testing.scripted_server --port 0 --config '{"latency_s": 0.2}'
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Script:
    latency_s: float = 0.0
    honour_n: bool = True
    # rules: {"every": 5, "fault": "429"|"500"|"hang"|"malformed"|"no_choices", "attempts": 1, "retry_after": 1}
    faults: list[dict[str, Any]] = field(default_factory=list)
    hang_s: float = 30.0
    answers: dict[str, str] = field(default_factory=dict)  # question -> answer for solve prompts
    log_path: str | None = None
    models_status: int = 200  # what GET /v1/models answers (some servers have no such route: 404)
    # Batch API (scripted_batches.py): batch-level outcomes and per-request faults
    batch_status: list[dict[str, Any]] = field(default_factory=list)
    batch_faults: list[dict[str, Any]] = field(default_factory=list)
    # A solve of a question found here replies with this solution (realistic lengths for cost tests)
    solutions: dict[str, str] = field(default_factory=dict)
    # Usage counted with this Hugging Face tokenizer (a local folder; chat template for chat
    # requests) instead of words, so that a test knows every reply's token counts exactly.
    tokenizer: str | None = None
    # question -> the share of its solves answered right (the rest get a wrong answer), per sample
    pass_rates: dict[str, float] = field(default_factory=dict)


# What real servers say when they refuse the request itself.
REJECTIONS = {"401": "Incorrect API key provided. You can find your API key at https://platform.example/keys.",
              "403": "You are not allowed to use this model.",
              "404": "The model `no-such-model` does not exist or you do not have access to it."}


def fingerprint(messages: list[dict]) -> int:
    return int(hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:12], 16)


def scripted_embedding(text: str, dims: int = 8) -> list[float]:
    """A text's stand-in embedding: `dims` numbers in [0, 1) from its sha256 (the same text,
    the same vector, so tests can compute the expected diversity gain themselves)."""
    digest = hashlib.sha256(text.encode()).digest()
    return [digest[i] / 256 for i in range(dims)]


def answer_for(question: str, answers: dict[str, str], index: int | str, pass_rates: dict[str, float] | None) -> str:
    """The gold, or (with a pass rate for the question) the gold for that share of samples and a
    wrong answer for the rest, decided by a hash of the question and the sample: deterministic."""
    gold = answers.get(question, "0")
    rate = (pass_rates or {}).get(question)
    if rate is None:
        return gold
    draw = int(hashlib.sha256(f"{question}|{index}".encode()).hexdigest()[:8], 16) / 16**8
    return gold if draw < rate else f"{gold}7"


def reply_text(messages: list[dict], answers: dict[str, str], index: int | str,
               solutions: dict[str, str] | None = None, pass_rates: dict[str, float] | None = None) -> str:
    """Deterministic in the messages and `index` (the sample's content key when the client
    sends one, so a resumed run gets the very same text for the same sample)."""
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    question = messages[-1]["content"]
    if "Rephrase" in system:
        return f"In other words, {question[0].lower()}{question[1:]}"
    if "declarative statement" in system:
        answer = re.search(r"The answer is (.+)\.$", question)
        return f"The result is {answer.group(1) if answer else '?'}."
    if "unknown variable" in system:
        return f"Solving step by step (sample {index}). The value of {'X' if 'variable X' in question else 'x'} is 0."
    if question.startswith("In other words, "):  # our own rephrasing, asked back
        rest = question[len("In other words, "):]
        question = rest[:1].upper() + rest[1:]
    answer = answer_for(question, answers, index, pass_rates)
    if solutions and question in solutions:
        return f"Sample {index}. {solutions[question]}\nThe answer is: {answer}"
    return f"Step by step (sample {index}): we compute. The answer is: {answer}"


class UsageCounter:
    """Token usage as a server reports it: words, or a real tokenizer's counts (Script.tokenizer)."""

    def __init__(self, tokenizer: str | None) -> None:
        self.tokenizer = None
        if tokenizer:
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(tokenizer)

    def prompt(self, messages: list[dict], raw: str | None = None) -> int:
        if self.tokenizer is None:
            return sum(len(m["content"].split()) for m in messages)
        if raw is not None:
            return len(self.tokenizer.encode(raw, add_special_tokens=False))
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def completion(self, text: str) -> int:
        return 20 if self.tokenizer is None else len(self.tokenizer.encode(text, add_special_tokens=False))


class ScriptedServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.usage = UsageCounter(script.tokenizer)
        self.attempts: dict[int, int] = {}
        self.log = open(script.log_path, "a") if script.log_path else None

    def _fault(self, fp: int, attempt: int) -> dict | None:
        for rule in self.script.faults:
            if fp % rule["every"] == rule.get("offset", 0) and attempt <= rule.get("attempts", 1):
                return rule
        return None

    def _record(self, request: web.Request, body: dict, status: str, choices: int, arrived: float) -> None:
        if self.log:
            self.log.write(json.dumps({"t": time.time(), "arrived": arrived, "keys": request.headers.get("X-MetaMath-Keys", ""),
                                       "n": body.get("n", 1), "status": status, "choices": choices,
                                       "path": request.path, "stop": body.get("stop"),
                                       "max_tokens": body.get("max_tokens"),
                                       "temperature": body.get("temperature")}) + "\n")
            self.log.flush()

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return await self._handle(request, body, body["messages"], text_api=False)

    async def completions(self, request: web.Request) -> web.StreamResponse:
        """The completions API with a raw prompt: the question inside an Alpaca template
        ("### Instruction:\n...\n\n### Response:") is answered like a chat question."""
        body = await request.json()
        found = re.search(r"### Instruction:\n(.*?)\n\n### Response:", body["prompt"], re.S)
        question = found.group(1) if found else body["prompt"]
        return await self._handle(request, body, [{"role": "user", "content": question}], text_api=True)

    async def _handle(self, request: web.Request, body: dict, messages: list[dict], text_api: bool) -> web.StreamResponse:
        arrived = time.time()
        fp = fingerprint(messages)
        self.attempts[fp] = attempt = self.attempts.get(fp, 0) + 1
        try:
            await asyncio.sleep(self.script.latency_s)
        except asyncio.CancelledError:  # the client went away (killed): it was received all the same
            self._record(request, body, "client_gone", 0, arrived)
            raise
        rule = self._fault(fp, attempt)
        kind = rule["fault"] if rule else None
        self._record(request, body, kind or "ok", 0 if kind else (body.get("n", 1) if self.script.honour_n else 1), arrived)
        if kind == "429":
            return web.json_response({"error": {"message": "rate limited"}}, status=429,
                                     headers={"Retry-After": str(rule.get("retry_after", 1))})
        if kind == "500":
            return web.json_response({"error": {"message": "boom"}}, status=500)
        if kind in REJECTIONS:
            return web.json_response({"error": {"message": REJECTIONS[kind]}}, status=int(kind))
        if kind == "hang":
            await asyncio.sleep(self.script.hang_s)
        if kind == "malformed":
            return web.Response(text='{"choices": [ {"broken', content_type="application/json")
        if kind == "no_choices":
            return web.json_response({"id": "x", "object": "chat.completion"})
        n = body.get("n", 1) if self.script.honour_n else 1
        keys = [k for k in request.headers.get("X-MetaMath-Keys", "").split(",") if k]
        tags = [keys[i][:8] if i < len(keys) else i for i in range(n)]
        texts = [reply_text(messages, self.script.answers, tags[i], self.script.solutions, self.script.pass_rates) for i in range(n)]
        choices = [{"index": i, "finish_reason": "stop", **({"text": t} if text_api else
                    {"message": {"role": "assistant", "content": t}})} for i, t in enumerate(texts)]
        prompt_tokens = self.usage.prompt(messages, body.get("prompt") if text_api else None)
        completion_tokens = sum(self.usage.completion(t) for t in texts)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        kind = "text_completion" if text_api else "chat.completion"
        return web.json_response({"id": f"cmpl-{fp}", "object": kind, "created": int(time.time()),
                                  "model": body.get("model", "scripted"), "choices": choices, "usage": usage})

    async def embeddings(self, request: web.Request) -> web.Response:
        """/v1/embeddings: each input's vector is `scripted_embedding` of its text (faults apply
        to the request as a whole, by its first input)."""
        body, arrived = await request.json(), time.time()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        fp = fingerprint([{"role": "user", "content": inputs[0]}])
        self.attempts[fp] = attempt = self.attempts.get(fp, 0) + 1
        rule = self._fault(fp, attempt)
        self._record(request, body, rule["fault"] if rule else "ok", 0 if rule else len(inputs), arrived)
        if rule and rule["fault"] == "429":
            return web.json_response({"error": {"message": "rate limited"}}, status=429,
                                     headers={"Retry-After": str(rule.get("retry_after", 1))})
        if rule:
            return web.json_response({"error": {"message": "boom"}}, status=500)
        data = [{"object": "embedding", "index": i, "embedding": scripted_embedding(t)} for i, t in enumerate(inputs)]
        tokens = sum(len(t.split()) for t in inputs)
        return web.json_response({"object": "list", "data": data, "model": body.get("model", "scripted"),
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def models(self, request: web.Request) -> web.Response:
        if self.script.models_status != 200:
            status = str(self.script.models_status)
            return web.json_response({"error": {"message": REJECTIONS.get(status, "no such route")}},
                                     status=self.script.models_status)
        return web.json_response({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    def batch_reply(self, body: dict, key: str) -> dict:
        """A batch request's completion: the same text an online request for `key` gets."""
        from metamath.testing.scripted_batches import question_of

        messages = question_of(body)
        text = reply_text(messages, self.script.answers, key[:8], self.script.solutions, self.script.pass_rates)
        prompt_tokens = self.usage.prompt(messages, body.get("prompt"))
        completion_tokens = self.usage.completion(text)
        choice = {"index": 0, "finish_reason": "stop",
                  **({"text": text} if "prompt" in body else {"message": {"role": "assistant", "content": text}})}
        return {"id": f"cmpl-{key[:12]}", "object": "text_completion" if "prompt" in body else "chat.completion",
                "created": int(time.time()), "model": body.get("model", "scripted"), "choices": [choice],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}

    def _log_event(self, event: dict) -> None:
        if self.log:
            self.log.write(json.dumps({"t": time.time(), **event}) + "\n")
            self.log.flush()

    def app(self) -> web.Application:
        from metamath.testing.scripted_batches import BatchAPI

        app = web.Application(client_max_size=256 * 1024 * 1024)  # batch input files
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_get("/v1/models", self.models)
        BatchAPI(self.script, self._log_event, self.batch_reply).routes(app)
        return app


class ServerProcess:
    """Runs the scripted server in its own process on 127.0.0.1; `base_url` once started."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def __enter__(self) -> "ServerProcess":
        import tempfile

        # In a file: a script with every GSM8K answer is longer than a command line may be.
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(self.script.__dict__, handle)
        self.proc = subprocess.Popen([sys.executable, "-m", "metamath.testing.scripted_server", "--config-file",
                                      handle.name], stdout=subprocess.PIPE, text=True)
        port = int(self.proc.stdout.readline().strip())
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)


async def _serve(script: Script, port: int) -> None:
    runner = web.AppRunner(ScriptedServer(script).app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--config", default="{}", help="the Script as JSON")
    parser.add_argument("--config-file", help="the Script as a JSON file (read, then deleted)")
    args = parser.parse_args()
    config = json.loads(args.config)
    if args.config_file:
        with open(args.config_file, encoding="utf-8") as handle:
            config = json.load(handle)
        os.unlink(args.config_file)
    asyncio.run(_serve(Script(**config), args.port))


if __name__ == "__main__":
    main()
