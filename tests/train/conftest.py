import pytest


@pytest.fixture(scope="session")
def embedded_tokenizer():
    from metamath.models import resolve_model
    from metamath.train.model import load_tokenizer

    return load_tokenizer(resolve_model("smollm2-135m-instruct"))
