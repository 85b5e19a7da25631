"""`make mutation`: mutation testing of the money path with mutmut, and a score per module.

Runs `mutmut run` (configured in pyproject.toml: which modules, which tests), then reads mutmut's per-file
results and prints, per module, mutants killed / (killed + survived + no tests). A module under the target
fails the command. Not part of `make test`: it runs the money tests once per mutant (minutes to an hour).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from mutmut.stats import status_by_exit_code

TARGET = 0.90
KILLED = {"killed", "timeout", "caught by type check"}
COUNTED = KILLED | {"survived", "no tests"}


def scores(mutants_dir: Path) -> dict[str, tuple[int, int, list[str]]]:
    """Per module: killed, counted, and the names of the mutants that survived."""
    result: dict[str, tuple[int, int, list[str]]] = {}
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        exit_codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        statuses = {name: status_by_exit_code[code] for name, code in exit_codes.items()}
        counted = [name for name, status in statuses.items() if status in COUNTED]
        if not counted:
            continue
        killed = sum(1 for name in counted if statuses[name] in KILLED)
        survived = sorted(name for name in counted if statuses[name] not in KILLED)
        module = str(meta.relative_to(mutants_dir)).removesuffix(".meta")
        result[module] = (killed, len(counted), survived)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="report the last run without running mutmut")
    args = parser.parse_args()
    if not args.no_run:
        subprocess.run([sys.executable, "-m", "mutmut", "run"], check=False)
    table = scores(Path("mutants"))
    if not table:
        print("no mutation results under mutants/: run `make mutation` first")
        return 2
    below = []
    print(f"{'module':<48} {'killed':>7} {'of':>5} {'score':>7}")
    for module, (killed, counted, survived) in table.items():
        score = killed / counted
        print(f"{module:<48} {killed:>7} {counted:>5} {score:>7.1%}")
        if score < TARGET:
            below.append(module)
        for name in survived:
            print(f"    survived: {name}")
    if below:
        print(f"below the {TARGET:.0%} target: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
