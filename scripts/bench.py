"""`make bench`: the kit's performance measured on this machine, never asserted in tests (machines are noisy).

Each `scripts/bench_<area>.py` module exposes `run(options) -> list[scripts.measure.Measurement]`. This script
runs them all, or the areas named on the command line, prints one table and publishes it: `bench/results.json`
(for programs) and `docs/BENCHMARKS.md` (for people), replacing only the rows of the areas it ran.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path
from typing import Any

from scripts.measure import BenchOptions, Measurement

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path("bench/results.json")
REPORT = Path("docs/BENCHMARKS.md")


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
    defaults = BenchOptions()
    parser.add_argument(
        "--repeat", type=int, default=defaults.repeat, help="runs per figure (default %(default)s)"
    )
    parser.add_argument("--words", type=int, default=defaults.words, help="text deltas per answer")
    parser.add_argument("--streams", type=int, default=defaults.streams, help="concurrent chat streams")
    parser.add_argument("--items", type=int, default=defaults.items, help="work items through the consumer")
    parser.add_argument("--output", type=Path, default=REPO_ROOT, help="where bench/ and docs/ are written")
    parser.add_argument("--no-publish", action="store_true", help="print only")
    args = parser.parse_args(argv)
    unknown = set(args.areas) - set(_areas())
    if unknown:
        parser.error(f"unknown areas {sorted(unknown)}: choose from {_areas()}")
    options = BenchOptions(repeat=args.repeat, words=args.words, streams=args.streams, items=args.items)
    areas = args.areas or _areas()
    rows: list[Measurement] = []
    load_before = os.getloadavg()
    for area in areas:
        sys.stderr.write(f"bench: {area} …\n")
        module = importlib.import_module(f"scripts.bench_{area}")
        rows.extend(module.run(options))
    sys.stdout.write(table(rows))
    if not args.no_publish:
        publish(rows, areas, options, args.output, load=(load_before, os.getloadavg()))
    return 0


def table(rows: list[Measurement]) -> str:
    width = max((len(f"{r.area}: {r.name}") for r in rows), default=10)
    lines = []
    for row in rows:
        label = f"{row.area}: {row.name}"
        spread = f"[{row.low:.3g}–{row.high:.3g}]" if row.low is not None and row.high is not None else ""
        target = "" if row.limit is None else f"target ≤ {row.limit:g}: {'met' if row.met else 'NOT met'}"
        lines.append(f"{label:<{width}}  {row.value:>10.3f} {row.unit:<6} {spread:<22} {target}  {row.note}")
    return "\n".join(lines) + "\n"


def publish(
    rows: list[Measurement],
    areas: list[str],
    options: BenchOptions,
    root: Path,
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> None:
    """Merge this run's areas into the results file and rewrite the report from it."""
    results_path = root / RESULTS
    previous = json.loads(results_path.read_text()) if results_path.exists() else {"areas": {}}
    run = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        # Other work on the machine inflates every figure: the 1-minute load average before and after.
        "load_average": [round(load[0][0], 2), round(load[1][0], 2)],
        "options": dataclasses.asdict(options),
        "command": command(areas if len(areas) == 1 else []),
    }
    for area in areas:
        previous["areas"][area] = {
            **run,
            "command": command([area]),
            "rows": [{**dataclasses.asdict(r), "met": r.met} for r in rows if r.area == area],
        }
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(previous, indent=2, ensure_ascii=False) + "\n")
    report_path = root / REPORT
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(report(previous))


def command(areas: list[str]) -> str:
    return "make bench" if not areas else f".venv/bin/python -m scripts.bench {' '.join(areas)}"


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(memory_kb / 1024**2, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`scripts/bench.py`); rerun a section with the command beside it.",
        "Medians of the runs counted in *n*, with min–max; ratios are computed per pair of runs made back to",
        "back. These are this machine's numbers on loopback (moto for AWS, the fake Claude sending deltas as",
        "fast as it can): compare changes with them, do not size a deployment with them. Targets: issue 11.",
        "",
    ]
    for area, section in sorted(results["areas"].items()):
        m = section["machine"]
        lines += [
            f"## {area}",
            "",
            f"`{section['command']}` — {section['date']}, {m['cpus']} × {m['cpu']}, {m['memory_gib']} GiB,"
            f" Python {m['python']}, {m['system']}; load average {section['load_average']} (before, after);"
            f" options {section['options']}",
            "",
            "| metric | median | min–max | n | target | met | notes |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in section["rows"]:
            spread = "" if row["low"] is None else f"{row['low']:.3g}–{row['high']:.3g}"
            target = "" if row["limit"] is None else f"≤ {row['limit']:g}"
            met = {True: "yes", False: "**no**", None: ""}[row["met"]]
            lines.append(
                f"| {row['name']} | {row['value']:.3g} {row['unit']} | {spread} | {row['samples']} | {target}"
                f" | {met} | {row['note']} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
