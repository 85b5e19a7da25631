"""The code asset built without Docker: real pip, a real Python 3.13, no network (nothing to download)."""

from __future__ import annotations

import stat
import struct
import sys
from pathlib import Path

import pytest
from aws_cdk import DockerImage

from infra.bundling import (
    PIP_PLATFORM,
    BundlingError,
    LocalBundling,
    docker_engine_available,
    find_python,
    installed_dependencies,
    pip_install_args,
)

HASH_BASED_UNCHECKED = 0b01  # PEP 552 flags: hash-based, source not checked


@pytest.fixture
def functions_dir(tmp_path: Path) -> Path:
    """A small functions/ tree: a package, a startup script and leftovers that must not ship."""
    source = tmp_path / "functions"
    (source / "claude_kit").mkdir(parents=True)
    (source / "claude_kit" / "__init__.py").write_text('"""Shared runtime."""\n')
    (source / "claude_kit" / "settings.py").write_text("MODEL = 'claude-sonnet-5-5'\n")
    (source / "run.sh").write_text("#!/bin/bash\nexec python -m uvicorn chat_api.app:app\n")
    (source / "run.sh").chmod(0o755)
    (source / "requirements.lock").write_text("# nothing to install\n")
    (source / "claude_kit" / "__pycache__").mkdir()
    (source / "claude_kit" / "__pycache__" / "settings.cpython-312.pyc").write_bytes(b"stale")
    (source / "tests").mkdir()
    (source / "tests" / "test_x.py").write_text("")
    return source


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CDK_DOCKER", str(tmp_path / "no-such-docker"))


def _fake_docker(tmp_path: Path, exit_code: int) -> str:
    docker = tmp_path / f"docker-exit-{exit_code}"
    docker.write_text(f"#!/bin/sh\necho 28.2.2\nexit {exit_code}\n")
    docker.chmod(0o755)
    return str(docker)


def test_pip_fetches_wheels_for_lambda_arm64_python_3_13_only() -> None:
    args = pip_install_args("requirements.txt", "/out")

    assert args[args.index("--platform") + 1] == PIP_PLATFORM == "manylinux2014_aarch64"
    assert args[args.index("--python-version") + 1] == "3.13"
    assert args[args.index("--implementation") + 1] == "cp"
    assert "--only-binary=:all:" in args  # never build an sdist for the build machine's architecture
    assert args[args.index("--target") + 1] == "/out"
    assert "--require-hashes" in args  # the lock's hashes, or nothing is installed


def test_local_bundle_holds_the_code_compiled_for_python_3_13(
    functions_dir: Path, tmp_path: Path, no_docker: None
) -> None:
    # Given no Docker engine and an empty output directory (what the CDK hands over)
    output = tmp_path / "asset"
    output.mkdir()

    # When the CDK asks the local bundler to build the asset
    bundled = LocalBundling(source=functions_dir, cache_dir=tmp_path / "build").try_bundle(
        str(output), image=DockerImage.from_registry("unused")
    )

    # Then it did, with the code, the startup script still executable, and no tests or stale bytecode
    assert bundled is True
    assert (output / "claude_kit" / "settings.py").is_file()
    assert (output / "run.sh").stat().st_mode & stat.S_IXUSR
    assert not (output / "tests").exists()
    assert not (output / "claude_kit" / "__pycache__" / "settings.cpython-312.pyc").exists()
    # And bytecode for Python 3.13 that Lambda will use without checking the sources
    compiled = sorted(path.name for path in (output / "claude_kit" / "__pycache__").iterdir())
    assert compiled == ["__init__.cpython-313.pyc", "settings.cpython-313.pyc"]
    header = (output / "claude_kit" / "__pycache__" / "settings.cpython-313.pyc").read_bytes()[:8]
    assert struct.unpack("<I", header[4:8])[0] == HASH_BASED_UNCHECKED


def test_dependency_install_is_cached_per_requirements(functions_dir: Path, tmp_path: Path) -> None:
    # Given one install for the current requirements
    requirements = functions_dir / "requirements.lock"
    first = installed_dependencies(requirements, python=find_python(), cache_dir=tmp_path / "build")

    # When the same requirements are bundled again, and then changed
    again = installed_dependencies(requirements, python="/nonexistent/python", cache_dir=tmp_path / "build")
    requirements.write_text("# still nothing, but different\n")
    changed = installed_dependencies(requirements, python=find_python(), cache_dir=tmp_path / "build")

    # Then the unchanged install is reused without running pip, and a change gets its own install
    assert again == first
    assert changed != first
    assert first.is_dir()
    assert changed.is_dir()


def test_bundler_leaves_the_work_to_docker_when_an_engine_answers(
    functions_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDK_DOCKER", _fake_docker(tmp_path, exit_code=0))
    output = tmp_path / "asset"
    output.mkdir()

    bundled = LocalBundling(source=functions_dir, cache_dir=tmp_path / "build").try_bundle(
        str(output), image=DockerImage.from_registry("unused")
    )

    assert bundled is False
    assert list(output.iterdir()) == []


def test_a_docker_client_without_an_engine_does_not_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDK_DOCKER", _fake_docker(tmp_path, exit_code=1))

    assert docker_engine_available() is False


def test_find_python_skips_interpreters_that_do_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a python3.13 on PATH that fails (as a pyenv shim without that version selected does),
    # and a working 3.13 among the pyenv versions
    shim = tmp_path / "bin" / "python3.13"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    installed = tmp_path / "home" / ".pyenv" / "versions" / "3.13.9" / "bin" / "python3.13"
    installed.parent.mkdir(parents=True)
    installed.symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    monkeypatch.setenv("PATH", str(shim.parent))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    # When looking for the runtime's interpreter
    python = find_python()

    # Then the broken shim is passed over for the one that runs
    assert python == str(installed)


def test_find_python_explains_what_to_install_when_there_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("HOME", "/nonexistent")

    with pytest.raises(BundlingError, match=r"python3\.13"):
        find_python()
