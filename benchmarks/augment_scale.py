"""Augment at scale: the driver's memory must stay flat in the number of samples.

    python benchmarks/augment_scale.py [--samples 1 10 40] [--limit 7473]

AnsAug on every GSM8K training question against the SCRIPTED OpenAI-compatible server on
127.0.0.1 (no latency, honours n), with n = 1, 10 and 30 samples per request: 7.5K, 75K and 224K
samples. The teacher is realistic where the claim lives: each sample is the question's real
GSM8K solution (realistic length) tagged with its sample index (distinct texts), and its final
answer is right for 75% of samples (`--pass-rate`), wrong for the rest, so verify, the verdict
journal and the filters see a realistic mix. (An earlier version answered every question right
with a one-line text: every row was kept and short, which hid the driver's growth during verify.) Each size runs the real `metamath augment` command in a
subprocess on a fresh output folder, then again (fully cached: nothing may be sent). Printed per
size: the driver's peak RSS (ru_maxrss of the command's own process, from its stats.json), the
wall time, the cached re-run's wall time (every step finished: all skipped), the wall time of a
re-run from the store alone (work/steps.json removed: every round looked up, nothing sent), and the time from Ray being up to the first request
(the server's arrival log). Then the RSS slope and its extrapolation to 14M samples.
Targets: peak RSS at the largest size within +15% of the smallest; first request < 20 s after Ray.
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from metamath.data import load_benchmark
from metamath.testing.scripted_server import Script, ServerProcess


def run_job(config: Path) -> float:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "metamath", "augment", "--config", str(config)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"augment failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return time.perf_counter() - started


def first_arrival(log: Path, after: float) -> float:
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry["arrived"] >= after:
            return entry["arrived"]
    return float("nan")


def measure(n: int, limit: int | None, url: str, log: Path, work: Path) -> dict:
    out = work / f"n{n}"
    config = work / f"n{n}.yaml"
    config.write_text(yaml.safe_dump({
        "augment": {"dataset": "gsm8k", "limit": limit, "methods": ["ansaug"], "samples": {"ansaug": n},
                    "output_dir": str(out), "decontaminate": True},
        "teacher": {"backend": "openai", "base_url": url, "model": "scripted", "api_key_env": None,
                    "max_concurrency": 64, "replicas": 2, "timeout_s": 120}}))
    wall = run_job(config)
    stats = json.loads((out / "stats.json").read_text())
    cached = run_job(config)  # every step finished: each is skipped (work/steps.json)
    again = json.loads((out / "stats.json").read_text())
    assert again["requests"]["sent"] == 0, again["requests"]
    (out / "work" / "steps.json").unlink()  # the store alone: every round looked up, nothing sent
    from_store = run_job(config)
    store_run = json.loads((out / "stats.json").read_text())
    assert store_run["requests"]["sent"] == 0 and store_run["rows"] == stats["rows"], store_run["requests"]
    samples = stats["requests"]["samples_generated"]
    return {"samples": samples, "rows": stats["rows"], "peak_rss_mb": stats["driver"]["peak_rss_mb"],
            "cached_peak_rss_mb": again["driver"]["peak_rss_mb"], "wall_s": round(wall, 1),
            "cached_wall_s": round(cached, 1), "cached_ray_start_s": again["driver"]["ray_start_s"],
            "store_rerun_wall_s": round(from_store, 1), "store_rerun_ray_start_s": store_run["driver"]["ray_start_s"],
            "store_rerun_peak_rss_mb": store_run["driver"]["peak_rss_mb"],
            "first_request_after_ray_s": round(first_arrival(log, stats["ray_up_at"]) - stats["ray_up_at"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, nargs="+", default=[1, 10, 30], help="samples per request (n)")
    parser.add_argument("--limit", type=int, default=None, help="questions (default: all 7,473)")
    parser.add_argument("--pass-rate", type=float, default=0.75, help="share of samples answered right")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="augment-scale-"))
    log = work / "server.jsonl"
    problems = load_benchmark("gsm8k", "train", limit=args.limit).problems
    script = Script(answers={p.question: p.gold for p in problems}, log_path=str(log),
                    solutions={p.question: p.solution.rsplit("####", 1)[0].strip() for p in problems},
                    pass_rates={p.question: args.pass_rate for p in problems})
    with ServerProcess(script) as server:
        results = [measure(n, args.limit, server.base_url, log, work) for n in args.samples]
    print(f"\n{'samples':>9} {'rows':>9} {'driver peak RSS MB':>19} {'wall s':>8} {'cached re-run s':>16} "
          f"{'from store s':>13} {'(Ray start s)':>14} {'first request s':>16}")
    for r in results:
        print(f"{r['samples']:9d} {r['rows']:9d} {r['peak_rss_mb']:19.0f} {r['wall_s']:8.1f} {r['cached_wall_s']:16.1f} "
              f"{r['store_rerun_wall_s']:13.1f} {r['cached_ray_start_s']:14.1f} {r['first_request_after_ray_s']:16.2f}")
    low, high = results[0], results[-1]
    growth = high["peak_rss_mb"] / low["peak_rss_mb"] - 1
    slope = (high["peak_rss_mb"] - low["peak_rss_mb"]) / max(1, high["samples"] - low["samples"]) * 10_000
    at_14m = high["peak_rss_mb"] + max(0.0, slope) * (14_000_000 - high["samples"]) / 10_000  # flat: no less
    print(f"driver peak RSS {low['samples']} -> {high['samples']} samples: {growth:+.1%} (target <= +15%); "
          f"slope {slope:+.2f} MB per 10K samples -> about {at_14m:,.0f} MB at 14M samples")
    cached = [r for r in results if r["samples"] >= 70_000] or results[-1:]
    for r in cached[:1]:
        print(f"cached re-run at {r['samples']} samples: {r['cached_wall_s'] - r['cached_ray_start_s']:.1f} s plus "
              f"{r['cached_ray_start_s']:.1f} s of Ray start; from the store alone "
              f"{r['store_rerun_wall_s'] - r['store_rerun_ray_start_s']:.1f} s plus Ray start (target < 30 s plus Ray start)")
    worst_first = max(r["first_request_after_ray_s"] for r in results)
    print(f"first request after Ray is up: at most {worst_first:.2f} s (target < 20 s)")
    print(json.dumps({"sizes": results, "rss_growth": round(growth, 4), "rss_slope_mb_per_10k": round(slope, 3),
                      "rss_at_14m_mb": round(at_14m), "first_request_max_s": worst_first}))


if __name__ == "__main__":
    main()
