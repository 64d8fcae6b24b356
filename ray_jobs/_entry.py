"""Shared by the ray_jobs/* entry points: `--config FILE [overrides]` -> the CLI stage."""

from __future__ import annotations

import argparse
import sys


def run(stage: str) -> None:
    parser = argparse.ArgumentParser(prog=f"ray_jobs/{stage}.py")
    parser.add_argument("--config", required=True)
    parser.add_argument("overrides", nargs="*", help="dotted.key=value")
    args = parser.parse_args()
    from metamath import cli
    from metamath.cli import app

    cli.OWNS_PROCESS = True
    sys.exit(app([stage, "--config", args.config, *args.overrides], standalone_mode=False) or 0)
