"""Shared by the ray_jobs/* entry points: every argument of the CLI command, passed through to it
(`--config FILE`, `dotted.key=value` overrides, and the command's own flags such as
`--submit-only` or `--cell`), so a Ray job takes exactly what `metamath <command>` takes."""

from __future__ import annotations

import sys


def run(stage: str) -> None:
    from metamath import cli
    from metamath.cli import app

    cli.OWNS_PROCESS = True
    sys.exit(app([stage, *sys.argv[1:]], prog_name=f"ray_jobs/{stage}.py", standalone_mode=False) or 0)
