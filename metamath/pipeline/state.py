"""`pipeline_state.json`: what each finished stage produced. A stage counts as finished
only when its record exists and its artifacts are still there; anything else is re-run
(each stage resumes its own partial work: the response store, checkpoints, decodes)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


def artifact_exists(path: str) -> bool:
    """A local path, or a pyarrow filesystem URI (s3://, gs://: a cluster's train output)."""
    if "://" not in path:
        return Path(path).exists()
    import pyarrow.fs as pafs

    fs, inner = pafs.FileSystem.from_uri(path)
    return fs.get_file_info(inner).type != pafs.FileType.NotFound


class PipelineState:
    def __init__(self, output_dir: str, filename: str = "pipeline_state.json") -> None:
        self.path = Path(output_dir) / filename
        self.stages: dict[str, Any] = json.loads(self.path.read_text())["stages"] if self.path.exists() else {}

    def finished(self, stage: str) -> bool:
        record = self.stages.get(stage)
        return bool(record) and all(artifact_exists(p) for p in record["artifacts"].values())

    def record(self, stage: str, artifacts: dict[str, str], summary: dict[str, Any]) -> None:
        self.stages[stage] = {"finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "artifacts": artifacts,
                              "summary": summary}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"stages": self.stages}, indent=2) + "\n")
        tmp.replace(self.path)  # atomic: a crash never leaves half a state file
