"""The one code asset every function ships: `functions/` plus its pinned dependencies, ready for Lambda.

Lambda runs the kit on Python 3.13 / arm64 from a read-only /var/task, so the bundle holds manylinux aarch64
wheels and bytecode compiled ahead of time: without .pyc files every cold start compiles the whole dependency
tree, which costs seconds. The .pyc files use unchecked-hash invalidation, so they stay valid whatever the zip
does to file timestamps.

Bundling runs in the CDK's Python 3.13 build image where a Docker engine is available, and otherwise with a
local Python 3.13 (this is what CI and most laptops without Docker use). Both produce the same layout.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from fnmatch import fnmatch
from functools import cache
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, IgnoreMode, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
BUILD_DIR = REPO_ROOT / ".build"

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
PYTHON_VERSION = "3.13"
PIP_PLATFORM = "manylinux2014_aarch64"
#: Every runtime package, transitive ones too, pinned with its hashes (`make lock`): the bundle ships exactly
#: the versions the tests ran against, and pip refuses any file whose hash differs.
LOCK_FILE = "requirements.lock"
#: Never shipped: bytecode of whatever Python ran the tests, caches, tests.
EXCLUDE = ("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", "tests")
#: unchecked-hash: Lambda never rewrites bytecode in /var/task, and zip timestamps must not invalidate it.
COMPILE_ARGS = ("-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash")


class BundlingError(RuntimeError):
    """The code asset cannot be built on this machine; the message says what to install."""


def pip_install_args(requirements: str, target: str) -> list[str]:
    """`pip install` arguments that fetch wheels for Lambda's platform, whatever the build machine is."""
    return [
        "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet",
        "--no-compile",  # bytecode is compiled once, afterwards, with hash-based invalidation
        "--platform", PIP_PLATFORM, "--only-binary=:all:", "--require-hashes",
        "--python-version", PYTHON_VERSION, "--implementation", "cp",
        "--target", target, "--requirement", requirements,
    ]  # fmt: skip


def function_code() -> lambda_.Code:
    """A code asset for one function; the CDK stages (and bundles) identical assets once per synth."""
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR), exclude=list(EXCLUDE), ignore_mode=IgnoreMode.GLOB, bundling=_bundling_options()
    )


@cache
def _bundling_options() -> BundlingOptions:
    copy_code = (
        "import shutil, sys; shutil.copytree('/asset-input', '/asset-output', dirs_exist_ok=True, "
        "ignore=shutil.ignore_patterns(*sys.argv[1:]))"
    )
    steps = [
        ["python", *pip_install_args(LOCK_FILE, "/asset-output")],
        ["python", "-c", copy_code, *EXCLUDE],
        ["python", *COMPILE_ARGS, "/asset-output"],
    ]
    return BundlingOptions(
        image=RUNTIME.bundling_image,
        command=["bash", "-c", " && ".join(shlex.join(step) for step in steps)],
        environment={"PIP_CACHE_DIR": "/tmp/pip-cache"},  # noqa: S108 - inside the throwaway build container
        local=LocalBundling(),
    )


@jsii.implements(ILocalBundling)
class LocalBundling:
    """Builds the asset without Docker when no Docker engine answers (CDK asks this before running Docker)."""

    def __init__(self, *, source: Path = FUNCTIONS_DIR, cache_dir: Path = BUILD_DIR) -> None:
        self._source = source
        self._cache_dir = cache_dir

    # The signature mirrors ILocalBundling.try_bundle: jsii passes the bundling options as keywords.
    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: object) -> bool:  # noqa: ARG002
        if docker_engine_available():
            return False
        bundle_locally(
            source=self._source, output=Path(output_dir), python=find_python(), cache_dir=self._cache_dir
        )
        return True


def docker_engine_available() -> bool:
    """True when a Docker engine answers (a client binary alone is not enough)."""
    docker = shutil.which(os.environ.get("CDK_DOCKER", "docker"))
    if docker is None:
        return False
    try:
        probe = subprocess.run(  # noqa: S603 - fixed arguments, binary found on PATH
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def find_python(version: str = PYTHON_VERSION) -> str:
    """An interpreter of the runtime's version that actually runs (pyenv shims may exist but fail)."""
    candidates = [
        sys.executable,
        shutil.which(f"python{version}"),
        *sorted(
            glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")), reverse=True
        ),
    ]
    for candidate in candidates:
        if candidate and _python_version(candidate) == version:
            return candidate
    raise BundlingError(
        f"Bundling the Lambda code needs a running Docker engine or a Python {version} interpreter; "
        f"found neither. Install python{version} (or start Docker) and synthesize again."
    )


def _python_version(python: str) -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - runs a candidate interpreter with a fixed snippet
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def bundle_locally(*, source: Path, output: Path, python: str, cache_dir: Path) -> None:
    """Dependencies (from the cache when unchanged), then the code on top, then the code's bytecode."""
    dependencies = installed_dependencies(source / LOCK_FILE, python=python, cache_dir=cache_dir)
    # Hard links make a cached install cost almost nothing to reuse; nothing writes to these files afterwards.
    shutil.copytree(dependencies, output, dirs_exist_ok=True, symlinks=True, copy_function=_link_or_copy)
    code = [entry for entry in source.iterdir() if not _excluded(entry.name)]
    for entry in code:
        if entry.is_dir():
            shutil.copytree(
                entry, output / entry.name, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*EXCLUDE)
            )
        else:
            shutil.copy2(entry, output / entry.name)
    _compile(python, [output / entry.name for entry in code])


def installed_dependencies(requirements: Path, *, python: str, cache_dir: Path) -> Path:
    """The compiled dependency tree for these requirements, installed once and reused by later synths."""
    # Keyed by what decides the result: the lock (versions and hashes) and pip options (platform, Python).
    options = "\0".join(pip_install_args("{requirements}", "{target}"))
    key = hashlib.sha256(requirements.read_bytes() + options.encode()).hexdigest()[:16]
    target = cache_dir / f"dependencies-{key}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".dependencies-", dir=cache_dir))
    staging.chmod(0o755)  # mkdtemp makes it private; Lambda reads the bundle as a non-root user
    try:
        subprocess.run([python, *pip_install_args(str(requirements), str(staging))], check=True)  # noqa: S603
        _compile(python, [staging])
        staging.rename(target)
    except OSError:
        if not target.is_dir():  # another synth finished the same install first: use its result
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _compile(python: str, paths: Sequence[Path]) -> None:
    if paths:
        subprocess.run([python, *COMPILE_ARGS, *map(str, paths)], check=True)  # noqa: S603


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another file system, or links not supported
        shutil.copy2(source, destination)


def _excluded(name: str) -> bool:
    return any(fnmatch(name, pattern) for pattern in EXCLUDE)
