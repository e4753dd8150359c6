"""How long `import pipelines.definitions` takes in a fresh interpreter (target: < 3 s).

Run: .venv/bin/python bench/import_bench.py [--repeat 5]
Prints each run's wall time and the best and median; the Definitions are what `dagster dev`,
the schedule and every run load first, so heavy libraries (GX, sktime, plotly) must stay lazy.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pipelines.definitions"], cwd=REPO, check=True)
        timings.append(time.perf_counter() - started)
    for i, t in enumerate(timings, 1):
        print(f"run {i}: {t:.2f} s")
    print(f"best {min(timings):.2f} s, median {statistics.median(timings):.2f} s "
          f"(target < 3 s, includes interpreter start)")


if __name__ == "__main__":
    main()
