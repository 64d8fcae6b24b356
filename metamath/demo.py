"""`make demo`: the whole pipeline on configs/local.yaml (embedded model, CPU)."""

from __future__ import annotations

import sys

from metamath.config import load_config
from metamath.errors import MetaMathError
from metamath.pipeline.job import run_pipeline

CONFIG = "configs/local.yaml"


def main() -> None:
    try:
        run_pipeline(load_config(CONFIG, sys.argv[1:]))
    except MetaMathError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
