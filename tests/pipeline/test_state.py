import json

from metamath.pipeline.state import PipelineState


def test_a_stage_is_finished_only_while_its_artifacts_exist(tmp_path):
    artifact = tmp_path / "final"
    artifact.mkdir()
    state = PipelineState(str(tmp_path))
    assert not state.finished("train")
    state.record("train", {"final": str(artifact)}, {"last_loss": 1.0})
    again = PipelineState(str(tmp_path))
    assert again.finished("train") and json.loads((tmp_path / "pipeline_state.json").read_text())["stages"]["train"]
    artifact.rmdir()
    assert not PipelineState(str(tmp_path)).finished("train")
