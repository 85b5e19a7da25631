"""Each function's asset holds everything its code imports (lazy imports too), and nothing the others need.

The imports are read from the code (every `import` statement of every module reachable from the handler,
inside functions too); the distributions behind them, and each asset's closure, from the installed metadata
of this virtualenv, which installs the same pins as the Lambda bundle.
"""

from __future__ import annotations

import ast
import sys
import sysconfig
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.function_assets import FUNCTION_ASSETS, asset_for_handler, copy_distributions, distribution_closure

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"
SITE = Path(sysconfig.get_paths()["purelib"])
HANDLERS = ["chat_api.app", "batch_jobs.consumer", "batch_jobs.poller", "spend_guard.handler"]
FIRST_PARTY = {entry.name for entry in FUNCTIONS.iterdir() if (entry / "__init__.py").is_file()}


def _module_file(name: str) -> Path | None:
    path = FUNCTIONS.joinpath(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _import_graph(start: str) -> tuple[set[str], set[str]]:
    """The first-party packages reachable from module `start`, and the third-party top-level modules they
    import anywhere (module level or inside functions), stdlib left out."""
    seen: set[str] = set()
    third_party: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        path = _module_file(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:n]) for n in range(1, len(parts))]  # parent packages run first
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in FIRST_PARTY:
                    todo.append(name)
                elif top not in sys.stdlib_module_names:
                    third_party.add(top)
    return {module.split(".")[0] for module in seen}, third_party


@pytest.mark.parametrize("handler", HANDLERS)
def test_each_asset_ships_every_package_and_distribution_its_handler_s_code_imports(handler):
    # Given the function's asset and everything its code can import
    asset = asset_for_handler(handler)
    packages, third_party = _import_graph(handler)
    distributions = packages_distributions()

    # When the asset's distributions are resolved from the pinned requirements
    shipped = distribution_closure(SITE, asset.requirements)

    # Then its code packages and the distributions behind every import are in it
    assert packages <= set(asset.code)
    needed = {canonicalize_name(d) for module in third_party for d in distributions[module]}
    assert needed <= shipped, f"{handler} imports {sorted(needed - shipped)}, which its asset lacks"


def test_the_spend_guard_and_the_batch_functions_ship_no_web_server():
    # When each asset's distributions are resolved
    closures = {
        name: distribution_closure(SITE, asset.requirements) for name, asset in FUNCTION_ASSETS.items()
    }

    # Then the web stack ships with the chat function only (the spend guard carries the SDK: it may cancel
    # in-flight Message Batches when it closes)
    web = {"fastapi", "starlette", "uvicorn"}
    assert web <= closures["chat_api"]
    assert not web & closures["batch_jobs"]
    assert not web & closures["spend_guard"]
    assert not web & closures["reconciliation"]
    assert "anthropic" in closures["batch_jobs"]  # the consumer and the poller call Claude
    # And tracing's X-Ray SDK ships with every function (the tracer extra): tracing is on in Lambda
    assert all("aws-xray-sdk" in closure for closure in closures.values())


def test_every_requirement_of_an_asset_is_pinned_in_the_one_requirements_file():
    # Given the pins that ship to Lambda
    pinned = {}
    for line in (FUNCTIONS / "requirements.txt").read_text().splitlines():
        text = line.split("#")[0].strip().rstrip("\\").strip()
        if text and not text.startswith("-"):
            requirement = Requirement(text)
            pinned[canonicalize_name(requirement.name)] = requirement

    # Then each asset's requirements name pinned distributions, with extras the pin includes
    for asset in FUNCTION_ASSETS.values():
        for root in map(Requirement, asset.requirements):
            pin = pinned.get(canonicalize_name(root.name))
            assert pin is not None, f"{asset.name}: {root.name} is not in functions/requirements.txt"
            assert str(pin.specifier).startswith("=="), f"{root.name} is not pinned exactly"
            assert root.extras <= pin.extras


def test_a_handler_without_an_asset_is_named_in_the_error():
    with pytest.raises(KeyError, match=r"reports\.handler"):
        asset_for_handler("reports.handler.handler")


def _install(site: Path, name: str, requires: list[str], modules: list[str]) -> None:
    """A distribution as pip leaves it: modules, METADATA with Requires-Dist, a RECORD of its files."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    files = []
    for module in modules:
        (site / module).mkdir()
        (site / module / "__init__.py").write_text(f"NAME = {module!r}\n")
        cache = site / module / "__pycache__"
        cache.mkdir()
        (cache / "__init__.cpython-313.pyc").write_bytes(b"compiled")  # compiled after the install
        files.append(f"{module}/__init__.py")
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
    (info / "METADATA").write_text("\n".join(metadata + [f"Requires-Dist: {r}" for r in requires]) + "\n")
    files += [f"{info.name}/METADATA", f"{info.name}/RECORD", f"../../bin/{name}"]
    (info / "RECORD").write_text("".join(f"{file},,\n" for file in files))


def test_an_asset_copies_the_closure_of_its_requirements_with_markers_for_lambda(tmp_path):
    # Given an installed tree: a guard needing `core` (and `tracing` with the extra), and a web stack
    site = tmp_path / "site"
    _install(
        site, "guard", ["core>=1", "tracing; extra == 'trace'", "winonly; sys_platform == 'win32'"], ["guard"]
    )
    _install(site, "core", ["oldpy; python_version < '3.10'"], ["core"])
    _install(site, "tracing", [], ["tracing"])
    _install(site, "web", ["core"], ["web"])
    _install(site, "winonly", [], ["winonly"])
    _install(site, "oldpy", [], ["oldpy"])

    # When the guard's asset takes its part
    output = tmp_path / "asset"
    copied = copy_distributions(site, output, ["guard[trace]"])

    # Then it holds exactly the closure for Lambda (Linux, Python 3.13): the extra's dependency, not the
    # Windows or old-Python one, nothing of the web stack; modules with their bytecode, and their metadata
    assert copied == {"guard", "core", "tracing"}
    assert sorted(p.name for p in output.iterdir()) == sorted(
        ["guard", "core", "tracing", "guard-1.0.dist-info", "core-1.0.dist-info", "tracing-1.0.dist-info"]
    )
    assert (output / "core" / "__init__.py").read_text() == "NAME = 'core'\n"
    assert (output / "core" / "__pycache__" / "__init__.cpython-313.pyc").read_bytes() == b"compiled"


def test_a_requirement_missing_from_the_install_is_named(tmp_path):
    site = tmp_path / "site"
    _install(site, "guard", ["core"], ["guard"])

    with pytest.raises(LookupError, match="core is required but not installed"):
        distribution_closure(site, ["guard"])
