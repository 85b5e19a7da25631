"""Each function's code asset, built as `make synth` builds it without Docker: its size unzipped and zipped,
and the distributions in it that its code does not import (the target: none).

The first run installs functions/requirements.txt for Lambda (arm64 wheels from PyPI) into .build/, as the
first synth does; later runs reuse that install.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from infra.bundling import BUILD_DIR, FUNCTIONS_DIR, bundle_locally, find_python
from infra.function_assets import FUNCTION_ASSETS, distribution_closure
from scripts.measure import BenchOptions, Measurement

#: What each function must not carry, because its code never imports it.
UNUSED = {
    "chat_api": set(),
    "batch_jobs": {"fastapi", "starlette", "uvicorn"},
    # The guard may cancel in-flight Message Batches when it closes (an option): that path uses the SDK.
    "spend_guard": {"fastapi", "starlette", "uvicorn"},
    "reconciliation": {"fastapi", "starlette", "uvicorn", "anthropic"},
}
FUNCTIONS = {
    "chat_api": "chat",
    "batch_jobs": "batch consumer and poller",
    "spend_guard": "spend guard",
    "reconciliation": "reconciliation",
}


def run(options: BenchOptions) -> list[Measurement]:  # noqa: ARG001 - one build each, nothing to repeat
    rows = []
    python = find_python()
    with tempfile.TemporaryDirectory() as scratch:
        for name, asset in FUNCTION_ASSETS.items():
            output = Path(scratch) / name
            output.mkdir()
            bundle_locally(
                source=FUNCTIONS_DIR, output=output, python=python, cache_dir=BUILD_DIR, asset=asset
            )
            unzipped = sum(f.stat().st_size for f in output.rglob("*") if f.is_file())
            zipped = Path(shutil.make_archive(str(output), "zip", output)).stat().st_size
            site = next(BUILD_DIR.glob("dependencies-*"))
            carried = sorted(distribution_closure(site, asset.requirements) & UNUSED[name])
            note = f"{zipped / 1e6:.1f} MB zipped; unused distributions carried: {carried or 'none'}"
            label = FUNCTIONS[name]
            rows += [
                Measurement("assets", f"{label}: asset size, unzipped", unzipped / 1e6, "MB", note),
                Measurement(
                    "assets", f"{label}: distributions it does not import", len(carried), "", note, limit=0
                ),
            ]
            os.remove(f"{output}.zip")
    return rows
