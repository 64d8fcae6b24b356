"""The step runner: records, skips what an earlier run finished, never resumes from stale records."""

from __future__ import annotations

import json
from pathlib import Path

from metamath.steps import Step, StepResult, fingerprint, run_steps, step_summary


class Counting:
    """Three steps a -> b -> c, each writing a file; counts how often each ran."""

    def __init__(self, root: Path, finished_b: bool = True) -> None:
        self.root, self.finished_b = root, finished_b
        self.ran: list[str] = []

    def step(self, name: str, finished: bool = True) -> Step:
        def go(results: dict[str, StepResult]) -> StepResult:
            self.ran.append(name)
            before = [results[k].value for k in sorted(results)]
            out = self.root / f"{name}.txt"
            out.write_text(f"{name} after {before}")
            return StepResult({"inputs": len(before)}, str(out), finished, value=name)

        return Step(name, go, lambda entry: StepResult(entry["stats"], entry["output"], True, value=f"{name}*"))

    def steps(self) -> list[Step]:
        return [self.step("a"), self.step("b", self.finished_b), self.step("c")]


def test_a_rerun_skips_finished_steps_and_restores_their_results(tmp_path: Path) -> None:
    job = Counting(tmp_path)
    first = run_steps(job.steps(), str(tmp_path / "work"), "f1")
    assert job.ran == ["a", "b", "c"] and first["c"].stats == {"inputs": 2}
    again = run_steps(job.steps(), str(tmp_path / "work"), "f1")
    assert job.ran == ["a", "b", "c"]  # nothing ran twice
    assert [again[k].value for k in "abc"] == ["a*", "b*", "c*"]
    summary = step_summary(str(tmp_path / "work" / "steps.json"))
    assert [summary[k]["skipped"] for k in "abc"] == [True, True, True]
    assert summary["c"]["output"] == str(tmp_path / "c.txt")


def test_an_unfinished_step_and_everything_after_it_run_again(tmp_path: Path) -> None:
    job = Counting(tmp_path, finished_b=False)
    run_steps(job.steps(), str(tmp_path / "work"), "f1")
    run_steps(job.steps(), str(tmp_path / "work"), "f1")
    # b did not finish (failed samples, a budget stop): it and c run again, a is taken as done
    assert job.ran == ["a", "b", "c", "b", "c"]


def test_another_config_or_a_missing_output_resumes_nothing(tmp_path: Path) -> None:
    job = Counting(tmp_path)
    run_steps(job.steps(), str(tmp_path / "work"), "f1")
    run_steps(job.steps(), str(tmp_path / "work"), "f2")
    assert job.ran == ["a", "b", "c"] * 2
    (tmp_path / "b.txt").unlink()
    run_steps(job.steps(), str(tmp_path / "work"), "f2")
    assert job.ran[6:] == ["b", "c"]


def test_a_kill_mid_step_drops_the_records_after_the_step_that_ran(tmp_path: Path) -> None:
    """A step that runs again invalidates every later record at once: a later kill must not let
    the next run take c from an older run than its input b."""
    job = Counting(tmp_path, finished_b=False)
    run_steps(job.steps(), str(tmp_path / "work"), "f1")
    dying = Counting(tmp_path)
    steps = dying.steps()

    def killed(results):
        raise KeyboardInterrupt

    steps[2] = Step("c", killed, steps[2].restore)
    try:
        run_steps(steps, str(tmp_path / "work"), "f1")
    except KeyboardInterrupt:
        pass
    record = json.loads((tmp_path / "work" / "steps.json").read_text())["steps"]
    assert sorted(record) == ["a", "b"] and record["b"]["finished"]
    last = Counting(tmp_path)
    run_steps(last.steps(), str(tmp_path / "work"), "f1")
    assert last.ran == ["c"]


def test_the_fingerprint_follows_every_part() -> None:
    assert fingerprint({"a": 1}, [1, 2]) == fingerprint({"a": 1}, [1, 2])
    assert fingerprint({"a": 1}, [1, 2]) != fingerprint({"a": 2}, [1, 2])
    assert fingerprint({"a": 1}, [1, 2]) != fingerprint({"a": 1}, [2, 1])
