"""Which Ray a command joins: its own local instance unless RAY_ADDRESS names a cluster."""

import os
import subprocess
import sys

from metamath.ray_utils import cluster_address


def test_an_unset_or_empty_address_means_an_instance_of_our_own(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert cluster_address() == "local"  # never "whichever Ray runs here": two of them made Ray fail
    monkeypatch.setenv("RAY_ADDRESS", "  ")
    assert cluster_address() == "local" and "RAY_ADDRESS" not in os.environ  # ray.init would raise on ""
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    assert cluster_address() == "ray://head:10001"


def test_a_bad_address_is_one_clear_line_within_seconds(tmp_path):
    # nothing listens on the discard port; ray.init alone retried a GCS address for ~10 minutes
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:9"}
    code = "from metamath.ray_utils import ensure_ray\nensure_ray()"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "RAY_ADDRESS='127.0.0.1:9': cannot connect to a Ray cluster there (Connection refused)" in out.stderr
