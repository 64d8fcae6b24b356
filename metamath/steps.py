"""A stage as a list of steps, in datatrove's spirit: each step reads what the steps before it
produced, writes its output and reports its own stats; the runner times it and records it.

The record, `<work>/steps.json`, is the stage's resume points: per step its output (a folder or a
file), its stats and whether it finished (a round with failed samples, or stopped at the budget,
did not: a re-run must do it again). A re-run of the same stage config skips each finished step
whose output is still there and rebuilds its result from the record, as long as every step
before it was skipped too; from the first step that runs, the records after it are dropped, so a
later step is never taken from an older run than its inputs.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from metamath import storage

RECORD = "steps.json"


@dataclass
class StepResult:
    stats: dict[str, Any] = field(default_factory=dict)  # JSON: this step's own figures
    output: str | None = None  # what it wrote: its resume point
    finished: bool = True  # False: a re-run runs it again
    value: Any = None  # what later steps read in this process (never recorded)


@dataclass
class Step:
    name: str
    run: Callable[[dict[str, StepResult]], StepResult]
    # A finished step's result rebuilt from its recorded stats and output (None: always runs).
    restore: Callable[[dict[str, Any]], StepResult] | None = None


def fingerprint(*parts: Any) -> str:
    """What decides a stage's outputs (its config, its input data), hashed: a record made under
    another fingerprint is never resumed from."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_record(path: str, stage_fingerprint: str) -> dict[str, dict[str, Any]]:
    if not storage.exists(path):
        return {}
    try:
        record = json.loads(storage.read_text(path))
    except (json.JSONDecodeError, OSError):
        return {}  # a torn record: nothing is resumed from it
    return record.get("steps", {}) if record.get("fingerprint") == stage_fingerprint else {}


def write_record(path: str, stage_fingerprint: str, steps: dict[str, dict[str, Any]]) -> None:
    storage.write_text(path, json.dumps({"fingerprint": stage_fingerprint, "steps": steps}, indent=1) + "\n")


def _resumable(step: Step, entry: dict[str, Any] | None) -> bool:
    return (step.restore is not None and entry is not None and entry.get("finished", False)
            and (entry.get("output") is None or storage.exists(entry["output"])))


def run_steps(steps: list[Step], work: str, stage_fingerprint: str) -> dict[str, StepResult]:
    """Every step in order (finished ones of an earlier run skipped); the record is rewritten
    after each step, so a kill loses at most the step it stopped in."""
    path = storage.join(work, RECORD)
    record = read_record(path, stage_fingerprint)
    results: dict[str, StepResult] = {}
    resuming, names = True, [s.name for s in steps]
    for step in steps:
        entry = record.get(step.name)
        if resuming and _resumable(step, entry):
            results[step.name] = step.restore(entry)
            record[step.name] = {**entry, "skipped": True}
            print(f"[metamath] {step.name}: finished in an earlier run, skipped", file=sys.stderr, flush=True)
            continue
        resuming = False
        record = {k: v for k, v in record.items() if k in names[: names.index(step.name)]}
        started = time.perf_counter()
        result = step.run(results)
        took = round(time.perf_counter() - started, 2)
        print(f"[metamath] {step.name}: {took:.1f} s", file=sys.stderr, flush=True)
        results[step.name] = result
        record[step.name] = {"output": result.output, "finished": result.finished, "seconds": took,
                             "skipped": False, "stats": result.stats}
        write_record(path, stage_fingerprint, record)
    write_record(path, stage_fingerprint, record)
    return results


def step_summary(path: str) -> dict[str, dict[str, Any]]:
    """Per step of the last run: seconds, skipped, output (what stats.json shows)."""
    record = json.loads(storage.read_text(path)) if storage.exists(path) else {"steps": {}}
    return {name: {k: entry.get(k) for k in ("seconds", "skipped", "output", "finished")}
            for name, entry in record["steps"].items()}
