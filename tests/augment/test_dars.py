"""DARS (difficulty-aware rejection sampling): the per-question arithmetic, then whole augment runs
on the SCRIPTED server (a stand-in, not a model) whose chance of a right answer depends on the
question, and the output folder loaded as a Hugging Face dataset."""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
import yaml

from metamath.augment.dars import QuestionState, cutoffs, quota_for, record_round
from metamath.config import DarsConfig

RATES = [1.0, 0.8, 0.5, 0.3, 0.1, 0.0]  # the six questions' pass rates, easiest first


def test_uniform_stops_a_question_at_its_quota_or_its_trial_cap():
    cfg = DarsConfig(min_correct=3, round_samples=4, max_trials=8)
    states = {"easy": QuestionState(), "hard": QuestionState()}
    record_round(states, {"easy": [(0, "correct"), (1, "correct"), (2, "correct"), (3, "correct")],
                          "hard": [(0, "dropped"), (1, "dropped"), (2, "dropped"), (3, "correct")]}, cfg)
    assert states["easy"].done and states["easy"].solved and cutoffs(states)["easy"] == 2  # the first 3 kept
    assert not states["hard"].done
    record_round(states, {"hard": [(4, "dropped")] * 3 + [(7, "correct")]}, cfg)
    assert states["hard"].done and not states["hard"].solved and states["hard"].trials == 8


def test_prop2diff_quota_follows_the_probe_s_fail_rate():
    cfg = DarsConfig(strategy="prop2diff", min_correct=10, round_samples=4)
    assert quota_for(cfg, QuestionState(trials=4, correct_indices=[0, 1, 2, 3])) == 1  # never zero
    assert quota_for(cfg, QuestionState(trials=4, correct_indices=[0])) == 8  # ceil(10 x 3/4)
    assert quota_for(cfg, QuestionState(trials=4)) == 10  # the hardest get k_p


def _config(tmp_path, server, name, dars, ansaug=None, teacher=None) -> dict:
    methods = ["dars"] if dars else ["ansaug"]
    aug = {"dataset": "gsm8k", "limit": len(RATES), "output_dir": str(tmp_path / name), "methods": methods,
           "shots": 2, "decontaminate": False}
    if dars:
        aug["dars"] = dars
    if ansaug:
        aug["samples"] = {"ansaug": ansaug}
    return {"augment": aug, "teacher": {"backend": "openai", "base_url": server.base_url, "model": "scripted",
                                        **(teacher or {})}}


def _server(tmp_path, scripted, name, **script):
    """One server per run, appending to the run's log; question i is answered right at RATES[i]."""
    from metamath.data import load_benchmark

    problems = load_benchmark("gsm8k", "train", limit=len(RATES)).problems
    return scripted(answers={p.question: p.gold for p in problems}, log_path=str(tmp_path / f"{name}.jsonl"),
                    pass_rates={p.question: r for p, r in zip(problems, RATES)}, **script), problems


def _run(tmp_path, scripted, name, dars, ansaug=None, teacher=None):
    from metamath.augment.job import run_augment
    from metamath.config.loader import validate_config

    server, problems = _server(tmp_path, scripted, name)
    stats = run_augment(validate_config(_config(tmp_path, server, name, dars, ansaug, teacher), name))
    difficulty = pq.read_table(tmp_path / name / "difficulty.parquet").to_pylist()
    by_rate = {r: d for p, r in zip(problems, RATES) for d in difficulty if d["question_id"] == p.id}
    rows = [json.loads(line) for line in (tmp_path / name / "metamathqa.jsonl").read_text().splitlines()]
    entries = [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
    sent = sum(len(e["keys"].split(",")) for e in entries if isinstance(e.get("keys"), str))
    sent += sum(e.get("event") == "batch_line" for e in entries)
    return stats, by_rate, rows, sent, problems


@pytest.mark.slow
def test_dars_against_ansaug_at_the_same_number_of_requests(ray_local, scripted, tmp_path, capsys):
    uniform = {"strategy": "uniform", "min_correct": 3, "round_samples": 4, "max_trials": 16}
    stats, diff, rows, sent, problems = _run(tmp_path, scripted, "uniform", uniform)
    per_q = {p.id: sum(r["source_id"] == p.id for r in rows) for p in problems}
    for (rate, d), p in zip(diff.items(), problems):
        assert per_q[p.id] == min(3, d["correct"])  # exactly min(k, correct found)
        if d["solved"]:  # asked no more than the trials it needed plus one round
            needed = 1 + max(r["sample_index"] for r in rows if r["source_id"] == p.id)
            assert d["trials"] <= needed + 4
        else:
            assert d["trials"] == 16  # an unsolved question stops at max_trials
    assert diff[1.0]["trials"] == 4 and diff[0.0]["correct"] == 0 and not diff[0.0]["solved"]
    assert stats["dars"]["unsolved"] >= 1 and stats["types"]["GSM_DARS"]["kept"] == len(rows)
    prop = {"strategy": "prop2diff", "min_correct": 6, "round_samples": 4, "max_trials": 16}
    _, pdiff, prows, psent, _ = _run(tmp_path, scripted, "prop2diff", prop)
    pkept = {rate: sum(r["source_id"] == p.id for r in prows) for rate, p in zip(RATES, problems)}
    assert pkept[0.3] >= pkept[0.8] >= pkept[1.0] == 1  # lower pass rate, more rows
    _, adiff, arows, asent, _ = _run(tmp_path, scripted, "ansaug", None, ansaug=max(1, sent // len(RATES)))
    akept = {rate: sum(r["source_id"] == p.id for r in arows) for rate, p in zip(RATES, problems)}
    ukept = {rate: per_q[p.id] for rate, p in zip(RATES, problems)}
    with capsys.disabled():
        print(f"\n[dars] rows per question by pass rate {RATES}: AnsAug ({asent} samples) "
              f"{[akept[r] for r in RATES]}; DARS-uniform ({sent}) {[ukept[r] for r in RATES]}; "
              f"DARS-prop2diff ({psent}) {[pkept[r] for r in RATES]}")
    assert akept[1.0] > akept[0.3]  # vanilla sampling favours the easy questions
    from metamath.analysis.difficulty import analyze_difficulty

    table, written = analyze_difficulty([str(tmp_path / n) for n in ("ansaug", "uniform", "prop2diff")],
                                        str(tmp_path / "analysis"))
    entries = json.loads((tmp_path / "analysis" / "difficulty.json").read_text())
    for run, kept in (("ansaug", arows), ("uniform", rows), ("prop2diff", prows)):
        assert sum(e["rows"] for e in entries if e["run"] == run) == len(kept)
        assert sum(e["questions"] for e in entries if e["run"] == run) == len(RATES)
    assert "| uniform | dars | 0 (none right) |" in table and written[-1].endswith("difficulty.png")


def _kill_9_in_round_2(tmp_path, scripted, env, dars) -> None:
    """The command (attached to the session's Ray, as on a cluster) killed -9 once its second
    DARS round has sent a request; its workers go with it."""
    import psutil

    workers = lambda: {p.pid for p in psutil.process_iter(["cmdline"])  # noqa: E731
                       if "OpenAIWorker" in " ".join(p.info["cmdline"] or [])}
    before = workers()  # an in-process run's actor pools may linger in the session's Ray
    server, _ = _server(tmp_path, scripted, "resumed", latency_s=0.5)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(_config(tmp_path, server, "resumed", dars)))
    proc = subprocess.Popen([sys.executable, "-m", "metamath", "augment", "--config", str(tmp_path / "c.yaml")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    round_1 = len(RATES)  # the capped run's 3 requests, then the 3 of round 1's 6 (one per question) not stored
    deadline = time.time() + 120
    while len((tmp_path / "resumed.jsonl").read_text().splitlines()) <= round_1 and time.time() < deadline:
        assert proc.poll() is None
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 60
    while workers() - before and time.time() < deadline:  # Ray ends a dead driver's workers
        time.sleep(0.2)
    time.sleep(1.0)  # a request in flight at the kill may still reach the server's log
    assert not (tmp_path / "resumed" / "metamathqa.jsonl").exists()


@pytest.mark.slow
def test_a_stopped_and_a_killed_run_resume_to_the_same_rows_batch_mode_too_and_the_folder_is_a_dataset(
        ray_local, session_ray_env, scripted, tmp_path, monkeypatch):
    """An uninterrupted run is the oracle. A run stopped part-way by its budget, then the same
    command killed -9 in its second DARS round, then re-run: the same rows, and nothing stored
    is bought again; so does a run in batch mode. The output folder loads with `datasets` and its
    card's figures are stats.json's."""
    import datasets

    from metamath.errors import BudgetReached
    from metamath.generation.cache.store import load_responses

    dars = {"strategy": "uniform", "min_correct": 2, "round_samples": 4, "max_trials": 8}
    stats, _, rows, _, _ = _run(tmp_path, scripted, "oracle", dars)
    with pytest.raises(BudgetReached, match="teacher.max_requests"):
        _run(tmp_path, scripted, "resumed", dars, teacher={"max_requests": 3})
    log = tmp_path / "resumed.jsonl"
    assert len(log.read_text().splitlines()) == 3  # the cap: 3 requests started
    _kill_9_in_round_2(tmp_path, scripted, session_ray_env, dars)
    stored, kill_time = set(load_responses(str(tmp_path / "resumed" / "responses"))[0]), time.time()
    assert len(stored) >= len(RATES) * dars["round_samples"]  # killed after round 1 was stored whole
    again, _, resumed, _, _ = _run(tmp_path, scripted, "resumed", dars)
    resent = [k for e in map(json.loads, log.read_text().splitlines()) if e["t"] > kill_time
              for k in e["keys"].split(",") if k in stored]
    assert resent == [] and again["requests"]["served_from_cache"] >= len(stored)  # nothing stored bought again
    assert resumed == rows
    monkeypatch.setenv("METAMATH_TEST_KEY", "sk-test")
    _, _, batched, _, _ = _run(tmp_path, scripted, "batch", dars, teacher={"mode": "batch", "batch_poll_s": 0.05,
                                                                            "api_key_env": "METAMATH_TEST_KEY"})
    assert [r["response"] for r in batched] == [r["response"] for r in rows]
    loaded = datasets.load_dataset(str(tmp_path / "oracle"))
    assert loaded["train"].num_rows == stats["rows"] == len(rows)
    assert set(loaded["train"].column_names) >= {"query", "response", "type", "original_question"}
    card = (tmp_path / "oracle" / "README.md").read_text()
    assert card.startswith("---\nlicense: mit") and "path: metamathqa.parquet" in card
    assert f"{stats['rows']:,} rows" in card and f"{stats['requests']['sent']} sent" in card
    assert f"${stats['cost']['this_run']:.4f} this run" in card and "127.0.0.1" in card
    for kind, entry in stats["types"].items():
        assert f"| {kind} | {entry['generated']} | {entry['correct']} | {entry['kept']} |" in card
