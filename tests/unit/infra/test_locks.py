"""The hashed lock files hold what the requirements ask for, the Lambda lock holds the versions the tests run
against, and this environment is installed from the lock (no version drifted)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)", re.M)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    return {normalized(name): version for name, version in PIN.findall(path.read_text())}


def hashed(path: Path) -> dict[str, int]:
    """Package → how many `--hash` lines follow its pin."""
    counts: dict[str, int] = {}
    current = None
    for line in path.read_text().splitlines():
        if found := PIN.match(line):
            current = normalized(found.group(1))
            counts[current] = 0
        elif current and line.strip().startswith("--hash=sha256:"):
            counts[current] += 1
    return counts


RUNTIME_LOCK = REPO_ROOT / "functions" / "requirements.lock"
DEV_LOCK = REPO_ROOT / "requirements-dev.lock"


@pytest.mark.parametrize(
    ("requirements", "lock"),
    [
        (REPO_ROOT / "functions" / "requirements.txt", RUNTIME_LOCK),
        (REPO_ROOT / "requirements-dev.txt", DEV_LOCK),
    ],
    ids=["runtime", "dev"],
)
def test_each_lock_pins_every_requirement_at_its_version_with_hashes(requirements: Path, lock: Path) -> None:
    wanted, locked, hashes = pins(requirements), pins(lock), hashed(lock)

    assert {name: locked.get(name) for name in wanted} == wanted
    assert [name for name, count in hashes.items() if count == 0] == []


def test_the_lambda_lock_ships_the_versions_the_tests_run_against() -> None:
    runtime, dev = pins(RUNTIME_LOCK), pins(DEV_LOCK)

    assert {name: dev.get(name) for name in runtime} == runtime


def test_this_environment_is_installed_from_the_dev_lock() -> None:
    drifted = {}
    for name, version in pins(DEV_LOCK).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            drifted[name] = (version, installed)

    assert drifted == {}, "run `make install` (or `make lock` after changing a requirements file)"
