import json

import numpy as np
import pytest

from metamath.analysis.diversity import analyze_diversity, diversity_gain, pearson
from metamath.errors import ConfigError, DataError
from metamath.records import write_jsonl
from metamath.records.schema import MetaMathQARecord


def test_diversity_gain_on_toy_vectors():
    base = np.array([[0.0, 0.0], [10.0, 0.0]])
    added = np.array([[1.0, 0.0], [10.0, 2.0], [5.0, 0.0]])
    # nearest squared distances: 1 (to the origin), 4 (to (10,0)), 25 (either)
    assert diversity_gain(base, added) == pytest.approx((1 + 4 + 25) / 3)
    assert diversity_gain(base, base) == 0.0


def test_chunked_search_equals_all_pairs_at_once():
    rng = np.random.default_rng(0)
    base, added = rng.normal(size=(301, 8)), rng.normal(size=(157, 8))
    all_pairs = ((added[:, None, :] - base[None, :, :]) ** 2).sum(-1).min(axis=1).mean()
    assert diversity_gain(base, added, chunk=16) == pytest.approx(all_pairs, rel=1e-9)
    with pytest.raises(DataError):
        diversity_gain(base[:0], added)


def test_pearson_known_values():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    with pytest.raises(DataError):
        pearson([1], [1])


@pytest.mark.slow
def test_hf_embedder_on_ray_and_the_correlation_with_gains(ray_local, tiny_llama, tmp_path):
    def write(name, queries):
        rows = [MetaMathQARecord(q, f"The answer is: {i}", "GSM_AnsAug", q) for i, q in enumerate(queries)]
        write_jsonl(rows, tmp_path / f"{name}.jsonl")
        return str(tmp_path / f"{name}.jsonl")

    base = write("base", [f"Tom has {i} apples. How many?" for i in range(6)])
    same = write("same", [f"Tom has {i} apples. How many?" for i in range(3)])
    other = write("other", ["Compute the integral of x^2 from 0 to 3.", "Solve z^3 = 8i over the complex numbers."])
    (tmp_path / "gains.json").write_text(json.dumps({"same": 0.0, "other": 2.5}))
    table, written = analyze_diversity(base, [same, other], str(tmp_path / "out"), f"hf:{tiny_llama}",
                                    gains=str(tmp_path / "gains.json"))
    report = json.loads((tmp_path / "out" / "diversity.json").read_text())
    gains = report["diversity_gain"]
    assert gains["same"] == pytest.approx(0.0, abs=1e-6) and gains["other"] > 0.01  # copies add nothing
    assert report["pearson_r"] == pytest.approx(1.0) and (tmp_path / "out" / "diversity.png").is_file()
    assert "| other |" in table and [w.rsplit("/", 1)[-1] for w in written] == ["diversity.md", "diversity.json", "diversity.png"]
    with pytest.raises(ConfigError, match="hf:<model>"):
        analyze_diversity(base, [same], str(tmp_path / "x"), "ada-002")


@pytest.mark.slow
def test_openai_embedder_stores_every_vector_and_never_buys_one_twice(ray_local, scripted, tmp_path):
    """Against a scripted /v1/embeddings (each text's vector derived from its hash): the gain
    equals the one computed from those vectors by hand, a 500 is retried, and a second run, or
    a run over an overlapping set, sends only texts never embedded before."""
    from metamath.analysis.diversity import sample_text
    from metamath.config import TeacherConfig
    from metamath.testing.scripted_server import scripted_embedding

    def write(name, queries):
        rows = [MetaMathQARecord(q, f"The answer is: {i}", "GSM_AnsAug", q) for i, q in enumerate(queries)]
        write_jsonl(rows, tmp_path / f"{name}.jsonl")
        return str(tmp_path / f"{name}.jsonl"), [sample_text(r.query, r.response) for r in rows]

    (base, base_texts), (added, added_texts) = write("base", [f"q{i}" for i in range(10)]), write("added", ["new a", "new b"])
    log = tmp_path / "server.jsonl"
    server = scripted(log_path=str(log), faults=[{"every": 1, "fault": "500"}])  # every first attempt
    teacher = TeacherConfig(backend="openai", base_url=server.base_url, api_key_env=None, max_retries=3)
    analyze_diversity(base, [added], str(tmp_path / "out"), "openai:text-embedding-ada-002", teacher=teacher)
    report = json.loads((tmp_path / "out" / "diversity.json").read_text())
    expected = diversity_gain(np.array([scripted_embedding(t) for t in base_texts]),
                              np.array([scripted_embedding(t) for t in added_texts]))
    assert report["diversity_gain"]["added"] == pytest.approx(expected, rel=1e-5)
    assert report["embedding_requests"] == {"sent": 12, "from_store": 0}
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum(r["choices"] for r in sent if r["status"] == "ok") == 12 and any(r["status"] == "500" for r in sent)
    (more, _) = write("more", ["new a", "brand new"])
    analyze_diversity(base, [added, more], str(tmp_path / "out"), "openai:text-embedding-ada-002", teacher=teacher)
    again = json.loads((tmp_path / "out" / "diversity.json").read_text())
    assert again["embedding_requests"] == {"sent": 1, "from_store": 13}  # only "brand new" is new
