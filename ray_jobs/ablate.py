"""`ray job submit ... -- python ray_jobs/ablate.py --config configs/FILE.yaml [ablate.cells=[NAME]] [overrides]`"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _entry import run  # noqa: E402

if __name__ == "__main__":
    run("ablate")
