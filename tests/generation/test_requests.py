from metamath.config import TeacherConfig
from metamath.generation.requests import TeacherResponse, make_group, request_key

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


def test_keys_are_the_stores_existing_keys_and_share_a_prompt_key():
    """Stored responses stay valid: a sample's key is still sha256 of the full canonical request."""
    import hashlib
    import json

    cfg = TeacherConfig(backend="openai", model="m", stop=["Q:"])
    for index in (0, 7, 123):
        payload = json.dumps({"backend": "openai", "model": "m", "messages": json.loads(MSG),
                              "params": {"temperature": 0.7, "top_p": 1.0, "max_tokens": 512, "stop": ["Q:"]},
                              "sample_index": index}, sort_keys=True, ensure_ascii=False)
        assert request_key(cfg, MSG, index) == hashlib.sha256(payload.encode()).hexdigest()
    a = make_group(cfg, json.loads(MSG), 2, {})
    b = make_group(cfg, json.loads(MSG), 2, {"other": 1}, first_index=5)
    assert a.prompt_key == b.prompt_key and not set(a.keys) & set(b.keys)
    assert make_group(cfg, [{"role": "user", "content": "x"}], 1, {}).prompt_key != a.prompt_key
