"""`make bench`: the kit's performance measured on this machine, never asserted in tests (machines are noisy).

Each `scripts/bench_<area>.py` module exposes `run() -> list[scripts.measure.Measurement]`. This script runs
them all, or the areas named on the command line, and prints one table.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path

from scripts.measure import Measurement


def _areas() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("areas", nargs="*", help=f"areas to run (default: all of {_areas()})")
    args = parser.parse_args(argv)
    # The functions' per-call EMF blobs and log lines would bury the table; a benchmark reads neither.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    rows: list[Measurement] = []
    for area in args.areas or _areas():
        module = importlib.import_module(f"scripts.bench_{area}")
        rows.extend(module.run())
    width = max((len(f"{r.area}: {r.name}") for r in rows), default=10)
    for row in rows:
        label = f"{row.area}: {row.name}"
        sys.stdout.write(f"{label:<{width}}  {row.value:>12.3f} {row.unit:<8} {row.note}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
