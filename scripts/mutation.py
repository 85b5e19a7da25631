"""`make mutation`: mutation testing of the money path with mutmut, and a score per module.

mutmut names a module after its path from the project root, while the functions import each other as
top-level packages (`claude_kit.pricing`, with `functions/` on the path as in Lambda). So the run happens in a
workspace, `.mutation/`, where the contents of `functions/` sit at the root beside the tests, the fake Claude
and the infrastructure code they import. Each module's score is mutants killed / (killed + survived + not
covered by any test); a module under the target fails the command. Not part of `make test`: it runs the money
tests once per mutant (tens of minutes on two cores).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

TARGET = 0.90
MODULES = (
    "claude_kit/pricing.py",
    "claude_kit/worst_case.py",
    "claude_kit/billing.py",
    "claude_kit/user_quota.py",
    "claude_kit/reservation.py",
    "claude_kit/retry.py",
    "claude_kit/stream_state.py",
    "claude_kit/context_window.py",
)
TESTS = (
    "tests/unit/claude_kit",
    "tests/integration/guardrails",
    "tests/integration/claude_kit",
    "tests/integration/fake_claude/test_ledger.py",
)
# It imports the functions from the project's functions/ folder in a fresh interpreter: not the workspace.
IGNORED = ("tests/unit/claude_kit/test_observability.py",)
# Log calls (their text and fields) are not mutated: a log line is not money, and issue 9 excepts them.
NOT_MUTATED = (r"\blogger\.\w+\(",)
WORKSPACE = Path(".mutation")
KILLED = {"killed", "timeout", "caught by type check"}
COUNTED = KILLED | {"survived", "no tests"}


def prepare_workspace(root: Path) -> None:
    """The project laid out as mutmut expects, with the last run's results kept (mutmut resumes them)."""
    WORKSPACE.mkdir(exist_ok=True)
    copied = []
    for package in (root / "functions").iterdir():
        if package.is_dir() and (package / "__init__.py").exists():
            _replace(package, WORKSPACE / package.name)
            if package.name != "claude_kit":  # mutmut copies the package it mutates itself
                copied.append(f"{package.name}/")
    for name in ("tests", "local", "infra", "ops"):
        if (root / name).exists():
            _replace(root / name, WORKSPACE / name)
            copied.append(f"{name}/")
    for name in ("app.py", "cdk.json"):
        shutil.copy2(root / name, WORKSPACE / name)
        copied.append(name)
    pyproject = (root / "pyproject.toml").read_text()
    pyproject = re.sub(r"pythonpath = \[[^\]]*\]", 'pythonpath = ["."]', pyproject)
    (WORKSPACE / "pyproject.toml").write_text(pyproject + _mutmut_section(copied))


def _replace(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))


def _mutmut_section(copied: list[str]) -> str:
    listed = ", ".join(f'"{path}"' for path in MODULES)
    tests = ", ".join(f'"{path}"' for path in TESTS)
    also = ", ".join(f'"{path}"' for path in copied)
    ignored = ", ".join(f'"--ignore={path}"' for path in IGNORED)
    patterns = ", ".join(f"'{pattern}'" for pattern in NOT_MUTATED)  # TOML literal strings: no escapes
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["claude_kit/"]\n'
        f"only_mutate = [{listed}]\n"
        f"do_not_mutate_patterns = [{patterns}]\n"
        f"also_copy = [{also}]\n"
        f"pytest_add_cli_args_test_selection = [{tests}]\n"
        f'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x", {ignored}]\n'
    )


def scores(mutants_dir: Path) -> dict[str, tuple[int, int, list[str], list[str]]]:
    """Per module: killed, counted, the mutants that survived, and those killed by a timeout (which on a busy
    machine may be a slow test rather than a kill: `--survivors` runs them again)."""
    from mutmut.stats import status_by_exit_code

    result: dict[str, tuple[int, int, list[str], list[str]]] = {}
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        exit_codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        statuses = {name: status_by_exit_code[code] for name, code in exit_codes.items()}
        counted = [name for name, status in statuses.items() if status in COUNTED]
        if not counted:
            continue
        killed = sum(1 for name in counted if statuses[name] in KILLED)
        survived = sorted(name for name in counted if statuses[name] not in KILLED)
        module = str(meta.relative_to(mutants_dir)).removesuffix(".meta")
        timed_out = sorted(name for name in counted if statuses[name] == "timeout")
        result[module] = (killed, len(counted), survived, timed_out)
    return result


def _selected(module: str, modules: list[str] | None) -> bool:
    return modules is None or Path(module).stem in modules


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="report the last run without running mutmut")
    parser.add_argument(
        "--modules",
        nargs="+",
        choices=[Path(path).stem for path in MODULES],
        help="run (again, all of their mutants) and report only these modules, e.g. --modules pricing retry",
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="run again only the last run's survivors and timeouts (killed ones stay killed as tests grow)",
    )
    args = parser.parse_args()
    if not args.no_run:
        # mutmut keeps earlier verdicts unless a mutant is named; a module's glob re-tests all of its mutants.
        names = [f"claude_kit.{module}.*" for module in args.modules or ()]
        if args.survivors:
            last = scores(WORKSPACE / "mutants") if (WORKSPACE / "mutants").exists() else {}
            names = [
                name
                for module, (_, _, survived, timed_out) in last.items()
                if _selected(module, args.modules)
                for name in survived + timed_out
            ]
        prepare_workspace(Path.cwd())
        if names or not args.survivors:
            command = [sys.executable, "-m", "mutmut", "run", *names]
            subprocess.run(command, cwd=WORKSPACE, check=False)  # noqa: S603 - names come from mutmut's own results
    table = scores(WORKSPACE / "mutants")
    table = {module: row for module, row in table.items() if _selected(module, args.modules)}
    if not table:
        print("no mutation results under .mutation/mutants: run `make mutation` first")
        return 2
    below = []
    print(f"{'module':<40} {'killed':>7} {'of':>5} {'score':>7}")
    for module, (killed, counted, survived, timed_out) in table.items():
        score = killed / counted
        print(f"{module:<40} {killed:>7} {counted:>5} {score:>7.1%}")
        if score < TARGET:
            below.append(module)
        for name in survived:
            print(f"    survived: {name}")
        for name in timed_out:
            print(f"    timed out (counted as killed): {name}")
    if below:
        print(f"below the {TARGET:.0%} target: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
