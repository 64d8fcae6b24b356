"""`pipeline_state.json`: what each finished stage produced. A stage counts as finished
only when its record exists and its artifacts are still there; anything else is re-run
(each stage resumes its own partial work: the response store, checkpoints, decodes).
Every path may be local or a URI (storage.py)."""

from __future__ import annotations

import json
import time
from typing import Any

from metamath import storage


def artifact_exists(path: str) -> bool:
    return storage.exists(path)


class PipelineState:
    def __init__(self, output_dir: str, filename: str = "pipeline_state.json") -> None:
        self.path = storage.join(output_dir, filename)
        self.stages: dict[str, Any] = (json.loads(storage.read_text(self.path))["stages"]
                                       if storage.exists(self.path) else {})

    def finished(self, stage: str) -> bool:
        record = self.stages.get(stage)
        return bool(record) and all(artifact_exists(p) for p in record["artifacts"].values())

    def record(self, stage: str, artifacts: dict[str, str], summary: dict[str, Any]) -> None:
        self.stages[stage] = {"finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "artifacts": artifacts,
                              "summary": summary}
        # whole or not at all: a crash never leaves half a state file
        storage.write_text(self.path, json.dumps({"stages": self.stages}, indent=2) + "\n")
