"""Batch mode's files, journal and driver against the SCRIPTED server's Batch API (no Ray: the
whole augment job in batch mode is in tests/augment/test_job_batch.py)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from metamath.config import TeacherConfig
from metamath.errors import SubmittedOnly
from metamath.generation.batch.files import CHAT_URL, InputWriter, parse_result, request_line
from metamath.generation.batch.driver import BatchDriver
from metamath.generation.batch.state import BatchJournal
from metamath.generation.requests import request_key
from metamath.generation.cache.store import load_responses


def _cfg(url, **extra):
    return TeacherConfig(**{"backend": "openai", "mode": "batch", "base_url": url, "model": "scripted",
                            "batch_poll_s": 0.02, "max_retries": 2, **extra})


def _samples(cfg, n):
    out = []
    for i in range(n):
        messages = json.dumps([{"role": "user", "content": f"What is {i} + {i}?"}])
        out.append({"key": request_key(cfg, messages, 0), "messages_json": messages, "prompt_key": f"p{i:04d}"})
    return out


def _events(log, kind):
    return [e for e in map(json.loads, log.read_text().splitlines()) if e.get("event") == kind] if log.exists() else []


def test_input_files_keep_to_the_request_and_byte_limits(tmp_path):
    cfg = TeacherConfig(backend="openai", model="m", stop=["\n\n"])
    writer = InputWriter(str(tmp_path), generation=0, max_requests=4, max_bytes=900)
    for sample in _samples(cfg, 10):
        writer.add(*request_line(cfg, sample["key"], sample["messages_json"]), sample["prompt_key"])
    files = writer.close()
    lines = [json.loads(x) for f in files for x in open(f.path)]
    assert [line["custom_id"] for line in lines] == [s["key"] for s in _samples(cfg, 10)]  # none lost, none twice
    assert all(f.requests <= 4 and os.path.getsize(f.path) <= 900 for f in files) and len(files) >= 3
    assert lines[0]["url"] == CHAT_URL and lines[0]["body"]["stop"] == ["\n\n"] and "n" not in lines[0]["body"]
    prompt = request_line(cfg, "k", json.dumps("### Instruction:\nq\n\n### Response:"))
    assert prompt[0] == "/v1/completions" and prompt[1]["body"]["prompt"].startswith("### Instruction")


def test_result_lines_ok_failed_and_malformed():
    ok = {"custom_id": "k1", "response": {"status_code": 200, "body": {
        "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}}}
    key, response = parse_result(json.dumps(ok))
    assert (key, response.text, response.status, response.prompt_tokens) == ("k1", "hi", "ok", 3)
    assert parse_result(json.dumps({"custom_id": "k2", "response": {"status_code": 500, "body": {}}}))[1].reason == "http_500"
    expired = {"custom_id": "k3", "response": None, "error": {"code": "batch_expired", "message": "x"}}
    assert parse_result(json.dumps(expired))[1].reason == "batch_expired"
    for bad in ('{"custom_id": "k4", "response": {"bro', json.dumps({"response": {}}),
                json.dumps({"custom_id": "k5", "response": {"status_code": 200, "body": {"choices": []}}})):
        with pytest.raises(ValueError):
            parse_result(bad)


def test_the_journal_replays_every_step_and_skips_a_torn_line(tmp_path):
    writer = InputWriter(str(tmp_path), generation=0)
    writer.add(CHAT_URL, {"custom_id": "k", "method": "POST", "url": CHAT_URL, "body": {}}, "p")
    journal = BatchJournal(str(tmp_path))
    state = journal.add_file(writer.close()[0])
    journal.update(state, file_id="file-1")
    journal.update(state, batch_id="batch-1", status="validating")
    with open(journal.path, "a") as handle:
        handle.write('{"event": "update", "name": "')  # killed while writing
    again = BatchJournal(str(tmp_path)).files[state.name]
    assert (again.file_id, again.batch_id, again.collected) == ("file-1", "batch-1", False)


def test_failures_are_retried_in_new_batches_and_malformed_lines_named(scripted, tmp_path, caplog):
    log = tmp_path / "server.jsonl"
    server = scripted(log_path=str(log), batch_faults=[{"every": 3, "fault": "error_500"},
                                                       {"every": 5, "offset": 1, "fault": "malformed"}],
                      batch_status=[{"index": 1, "status": "expired"}])
    cfg = _cfg(server.base_url, batch_max_requests=10)
    samples = _samples(cfg, 24)
    driver = BatchDriver(cfg, str(tmp_path / "batches" / "round1"), str(tmp_path / "responses"), "run:round1")
    driver.send(samples)
    stored, _ = load_responses(str(tmp_path / "responses"))
    assert set(stored) == {s["key"] for s in samples}  # every sample came back, after retries
    t = driver.tally
    assert t.sent == t.succeeded + sum(t.retried.values()) + sum(t.failed.values()) and not t.failed
    assert {"http_500", "malformed", "batch_expired"} <= set(t.retried), t.retried
    assert t.malformed_lines == t.retried["malformed"]
    assert "output.jsonl: line " in caplog.text and "its sample is sent again" in caplog.text
    paid = [e["key"] for e in _events(log, "batch_line") if e["status"] in ("ok", "malformed", "error_500")]
    assert t.sent == len(_events(log, "batch_line"))  # every request the server saw is accounted
    assert len(paid) - len(set(paid)) == sum(v for k, v in t.retried.items() if k != "batch_expired")


def test_given_up_after_max_retries_and_a_failed_batch_is_sent_again(scripted, tmp_path):
    server = scripted(batch_faults=[{"every": 4, "fault": "error_500", "attempts": 9}],
                      batch_status=[{"index": 0, "status": "failed"}])
    cfg = _cfg(server.base_url, max_retries=1)
    samples = _samples(cfg, 8)
    driver = BatchDriver(cfg, str(tmp_path / "b"), str(tmp_path / "responses"), "r")
    driver.send(samples)
    t = driver.tally
    assert t.retried.get("batch_failed") == 8  # the whole first batch failed validation
    doomed = set(t.failures)
    assert doomed and all(reason == "http_500" for reason in t.failures.values()) and t.failed == {"http_500": len(doomed)}
    assert set(load_responses(str(tmp_path / "responses"))[0]) == {s["key"] for s in samples} - doomed


def test_a_batch_created_but_not_journaled_is_found_not_made_again(scripted, tmp_path):
    log = tmp_path / "server.jsonl"
    server = scripted(log_path=str(log))
    cfg = _cfg(server.base_url)
    folder = str(tmp_path / "b")
    driver = BatchDriver(cfg, folder, str(tmp_path / "responses"), "r")
    writer = InputWriter(folder, 0)
    for s in _samples(cfg, 3):
        writer.add(*request_line(cfg, s["key"], s["messages_json"]), s["prompt_key"])
    state = driver.journal.add_file(writer.close()[0])
    with open(state.path, "rb") as handle:
        uploaded = driver.client.files.create(file=("x.jsonl", handle), purpose="batch")
    driver.journal.update(state, file_id=uploaded.id)
    driver.client.batches.create(input_file_id=uploaded.id, endpoint=CHAT_URL, completion_window="24h")  # then a crash
    BatchDriver(cfg, folder, str(tmp_path / "responses"), "r").resume()
    assert len(_events(log, "batch_created")) == 1
    assert len(load_responses(str(tmp_path / "responses"))[0]) == 3


def test_submit_only_stops_once_the_batches_exist(scripted, tmp_path):
    server = scripted()
    cfg = _cfg(server.base_url, batch_max_requests=4, max_batches_in_flight=2)
    driver = BatchDriver(cfg, str(tmp_path / "b"), str(tmp_path / "responses"), "r", submit_only=True)
    with pytest.raises(SubmittedOnly, match=r"2 batch\(es\) in flight and 1 file\(s\) not yet submitted"):
        driver.send(_samples(cfg, 10))
    states = list(BatchJournal(str(tmp_path / "b")).files.values())
    assert [bool(s.batch_id) for s in states] == [True, True, False]


DRIVER = """
import json, sys
from metamath.config import TeacherConfig
from metamath.generation.batch.driver import BatchDriver
from metamath.generation.cache.store import load_responses, Store
url, root, poll = sys.argv[1], sys.argv[2], float(sys.argv[3])
cfg = TeacherConfig(backend="openai", mode="batch", base_url=url, model="scripted", batch_poll_s=poll)
samples = json.load(open(root + "/samples.json"))
driver = BatchDriver(cfg, root + "/batches", root + "/responses", "run")
driver.resume()
Store(root + "/responses").compact()
done = set(load_responses(root + "/responses")[0])
driver.send([s for s in samples if s["key"] not in done])
print("sent", driver.tally.sent)
"""


def test_kill_9_between_submission_and_collection_pays_nothing_twice(scripted, tmp_path):
    log = tmp_path / "server.jsonl"
    server = scripted(log_path=str(log))
    samples = _samples(_cfg(server.base_url), 12)
    (tmp_path / "samples.json").write_text(json.dumps(samples))
    run = lambda poll, **kw: subprocess.Popen([sys.executable, "-c", DRIVER, server.base_url, str(tmp_path), str(poll)],  # noqa: E731
                                              stdout=subprocess.PIPE, text=True, **kw)
    first = run(30.0, start_new_session=True)  # polls once, then waits 30 s: killed in that wait
    deadline = time.time() + 60
    while not any(e.get("batch_id") for e in _journal(tmp_path)) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert _events(log, "batch_created") and not _events(log, "batch_line")  # submitted, not collected
    second = run(0.02)
    assert second.wait(timeout=60) == 0 and "sent 12" in second.stdout.read()
    created = _events(log, "batch_created")
    assert len(created) == 1  # re-attached, not made again
    lines = [e["key"] for e in _events(log, "batch_line")]
    assert sorted(lines) == sorted(s["key"] for s in samples)  # each request processed (paid) once
    assert set(load_responses(str(tmp_path / "responses"))[0]) == set(lines)


def _journal(root):
    path = root / "batches" / "state.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def test_the_batches_command_lists_and_cancels(scripted, tmp_path, capsys):
    from metamath.generation.batch.admin import show_batches

    log = tmp_path / "server.jsonl"
    server = scripted(log_path=str(log))
    cfg = _cfg(server.base_url)
    driver = BatchDriver(cfg, str(tmp_path / "batches" / "round1"), str(tmp_path / "responses"), "r",
                         submit_only=True)
    with pytest.raises(SubmittedOnly):
        driver.send(_samples(cfg, 4))
    show_batches(str(tmp_path), cancel=True)
    assert "batch-000000" in capsys.readouterr().out and len(_events(log, "batch_cancelled")) == 1
    # the next run collects the cancelled batch and sends its requests again in a new one
    again = BatchDriver(_cfg(server.base_url), str(tmp_path / "batches" / "round1"), str(tmp_path / "responses"), "r")
    again.resume()
    assert again.tally.retried == {"batch_cancelled": 4} and len(_events(log, "batch_created")) == 2
    assert len(load_responses(str(tmp_path / "responses"))[0]) == 4
    with pytest.raises(Exception, match="no batches here"):
        show_batches(str(tmp_path / "elsewhere"))


def test_the_cap_is_checked_before_each_batch_and_a_raised_cap_buys_the_rest_once(scripted, tmp_path):
    """teacher.max_cost_usd in batch mode: a batch whose upper bound (a token per byte of its file,
    max_tokens per request, at the batch discount) would pass the cap is not created; its samples
    are not sent (reason `budget`) and its file is closed on record; a later driver with a raised
    cap buys them, each once."""
    from metamath.generation.budget import cost_usd

    log = tmp_path / "server.jsonl"
    server = scripted(log_path=str(log))
    prices = {"prompt": 1.0, "completion": 2.0}
    probe = _cfg(server.base_url, batch_max_requests=4, max_tokens=16, price_per_million=prices)
    samples = _samples(probe, 12)  # three files of four
    folder, store = str(tmp_path / "b"), str(tmp_path / "responses")
    writer = InputWriter(str(tmp_path / "sizes"), 0, 4)
    for s in samples[:4]:
        writer.add(*request_line(probe, s["key"], s["messages_json"]), s["prompt_key"])
    one_file = cost_usd(prices, os.path.getsize(writer.close()[0].path), 4 * 16) * 0.5
    cap = one_file * 1.5  # room for one batch at its bound, not two
    capped = BatchDriver(probe.model_copy(update={"max_cost_usd": cap}), folder, store, "run1:round1")
    capped.send(samples)
    budget = [k for k, why in capped.tally.failures.items() if why == "budget"]
    bought = {e["key"] for e in _events(log, "batch_line")}
    assert len(_events(log, "batch_created")) == 1 and len(bought) == 4 and len(budget) == 8
    spent = cost_usd(prices, capped.tally.prompt_tokens, capped.tally.completion_tokens) * 0.5
    assert 0 < spent <= cap and not set(budget) & bought
    assert sum(f.status == "held_back_by_budget" for f in capped.journal.files.values()) == 2
    missing = [s for s in samples if s["key"] not in set(load_responses(store)[0])]
    raised = BatchDriver(probe.model_copy(update={"max_cost_usd": cap * 10}), folder, store, "run2:round1")
    raised.resume()  # the held-back files are closed on record: nothing from them is created
    raised.send(missing)
    lines = [e["key"] for e in _events(log, "batch_line")]
    assert sorted(lines) == sorted(s["key"] for s in samples)  # every sample bought exactly once
    assert set(load_responses(store)[0]) == {s["key"] for s in samples}
