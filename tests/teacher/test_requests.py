from metamath.config import TeacherConfig
from metamath.teacher.requests import TeacherResponse, make_group, request_key

MSG = '[{"role": "user", "content": "q"}]'


def test_key_covers_backend_model_request_and_sample():
    base = TeacherConfig(backend="openai", model="m")
    key = request_key(base, MSG, 0)
    assert key == request_key(TeacherConfig(backend="openai", model="m"), MSG, 0)
    assert key != request_key(base, MSG, 1)
    assert key != request_key(TeacherConfig(backend="hf", model="m"), MSG, 0)
    assert key != request_key(TeacherConfig(backend="openai", model="m2"), MSG, 0)
    assert key != request_key(TeacherConfig(backend="openai", model="m", temperature=0.1), MSG, 0)
    assert key != request_key(base, '[{"role": "user", "content": "q2"}]', 0)
    # settings that do not change the request do not change the key
    assert key == request_key(TeacherConfig(backend="openai", model="m", max_concurrency=3, api_key_env="X"), MSG, 0)


def test_group_and_row_round_trip():
    group = make_group(TeacherConfig(), [{"role": "user", "content": "q"}], 3, {"a": 1}, first_index=2)
    assert group.sample_indices == [2, 3, 4] and len(set(group.keys)) == 3
    response = TeacherResponse("k", "t", "ok", retries={"http_429": 2})
    assert TeacherResponse.from_row(response.to_row()) == response
