"""What each function ships: its own code packages and the installed distributions its imports need.

One pinned source, functions/requirements.txt, is installed once (infra/bundling.py caches that install). Each
function then gets the part of it its code needs: the closure of its top-level requirements, read from the
installed distributions' own metadata (`Requires-Dist`, markers evaluated for Lambda: Python 3.13, Linux,
aarch64), copied file by file from their RECORD. Only the chat function ships FastAPI and uvicorn.

Stdlib and `packaging` only (pip's own copy of it inside the CDK's build image), because the Docker bundling
runs this file as a script: `python function_assets.py SITE OUTPUT ROOT...`.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import Distribution, distributions
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # the CDK's build image: only pip, which vendors packaging
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[assignment]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[assignment]

#: Lambda's interpreter and platform, for the markers of `Requires-Dist` (python 3.13 on arm64 Linux).
LAMBDA_MARKER_ENVIRONMENT = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
}


@dataclass(frozen=True)
class FunctionAsset:
    """`code`: the packages under functions/ it ships; `requirements`: top-level requirements (with extras),
    each pinned in functions/requirements.txt, whose closure it ships."""

    name: str
    code: tuple[str, ...]
    requirements: tuple[str, ...]


_SHARED = ("boto3", "aws-lambda-powertools[tracer]", "pydantic", "pydantic-settings")
_CLAUDE = ("anthropic", "anyio", "tenacity", "more-itertools")

#: By the handler's top-level package. tests/unit/infra/test_function_assets.py checks every import of each
#: handler's code (lazy ones too) against these.
FUNCTION_ASSETS: dict[str, FunctionAsset] = {
    "chat_api": FunctionAsset(
        "chat_api",
        code=("chat_api", "batch_jobs", "claude_kit"),
        # run.sh serves the app with uvicorn; the API docs' Swagger UI assets are served from their package
        requirements=(*_SHARED, *_CLAUDE, "fastapi", "uvicorn", "swagger-ui-bundle-v2"),
    ),
    "batch_jobs": FunctionAsset(
        "batch_jobs", code=("batch_jobs", "claude_kit"), requirements=(*_SHARED, *_CLAUDE)
    ),
    # Closing may cancel in-flight Message Batches (an option): that path needs the batch code and the SDK.
    "spend_guard": FunctionAsset(
        "spend_guard", code=("spend_guard", "batch_jobs", "claude_kit"), requirements=(*_SHARED, *_CLAUDE)
    ),
    # Reads the Usage & Cost Admin API over plain HTTP (httpx2, the SDK's HTTP client), without the SDK.
    "reconciliation": FunctionAsset(
        "reconciliation", code=("reconciliation", "claude_kit"), requirements=(*_SHARED, "httpx2")
    ),
}


def asset_for_handler(handler: str) -> FunctionAsset:
    """`chat_api/run.sh`, `batch_jobs.poller.handler` … → the asset of that package."""
    package = handler.replace("/", ".").split(".")[0]
    try:
        return FUNCTION_ASSETS[package]
    except KeyError:
        raise KeyError(
            f"no FunctionAsset for handler {handler!r}: add one to infra/function_assets.py"
        ) from None


def _installed(site: Path) -> dict[str, Distribution]:
    return {canonicalize_name(d.metadata["Name"]): d for d in distributions(path=[str(site)])}


def distribution_closure(site: Path, roots: Iterable[str]) -> set[str]:
    """The canonical names of the distributions installed in `site` that `roots` need, themselves included."""
    installed = _installed(site)
    needed: set[str] = set()
    todo = [(Requirement(root), frozenset(Requirement(root).extras)) for root in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        distribution = installed.get(name)
        if distribution is None:
            raise LookupError(f"{requirement.name} is required but not installed in {site}")
        needed.add(name)
        for line in distribution.requires or []:
            dependency = Requirement(line)
            applies = dependency.marker is None or any(
                dependency.marker.evaluate({**LAMBDA_MARKER_ENVIRONMENT, "extra": extra})
                for extra in (extras or {""})
            )
            if applies:
                todo.append((dependency, frozenset(dependency.extras)))
    return needed


def copy_distributions(site: Path, output: Path, roots: Iterable[str]) -> set[str]:
    """Copy (hard-link where possible) every file of the closure of `roots` from `site` into `output`."""
    installed = _installed(site)
    needed = distribution_closure(site, roots)
    for name in needed:
        for file in installed[name].files or []:
            source = Path(str(file.locate())).resolve()
            if not source.is_relative_to(site.resolve()) or not source.is_file():
                continue  # console scripts outside the target; bytecode pip did not compile (--no-compile)
            relative = source.relative_to(site.resolve())
            target = output / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:  # another file system, or the file is already there
                if not target.exists():
                    shutil.copy2(source, target)
    _copy_compiled(site, output)
    return needed


def _copy_compiled(site: Path, output: Path) -> None:
    """The bytecode compiled into `site` after the install (not in RECORD) for the modules copied."""
    for cache in site.rglob("__pycache__"):
        shipped = output / cache.parent.relative_to(site)
        if not shipped.is_dir():
            continue
        for compiled in cache.glob("*.pyc"):
            module = compiled.name.split(".")[0]
            if (shipped / f"{module}.py").is_file():
                target = shipped / "__pycache__" / compiled.name
                target.parent.mkdir(exist_ok=True)
                if not target.exists():
                    shutil.copy2(compiled, target)


if __name__ == "__main__":  # the Docker bundling: SITE OUTPUT ROOT...
    copy_distributions(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
