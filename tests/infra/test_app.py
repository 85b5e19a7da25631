"""app.py, run the way the CDK CLI runs it, rejects a bad cdk.json with the key to fix and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import CDK_CONTEXT, REPO_ROOT

pytestmark = pytest.mark.slow


def _run_app(context: dict[str, object], outdir: Path) -> subprocess.CompletedProcess[str]:
    # The CLI hands cdk.json's context (merged with -c flags) to the app in CDK_CONTEXT_JSON.
    environment = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(outdir)}
    return subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_bad_value_fails_synth_naming_the_key(tmp_path: Path) -> None:
    # Given cdk.json with an impossible prod cost threshold
    environments = json.loads(json.dumps(CDK_CONTEXT["environments"]))
    environments["prod"]["alerts"]["claude_daily_usd"] = -5

    # When the CLI runs `cdk synth -c env=prod`
    result = _run_app({**CDK_CONTEXT, "environments": environments, "env": "prod"}, tmp_path)

    # Then synth stops with the key to fix, and no Python traceback buries it
    assert result.returncode != 0
    assert "environments.prod.alerts.claude_daily_usd" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.template.json"))


def test_unknown_environment_fails_synth_listing_the_known_ones(tmp_path: Path) -> None:
    result = _run_app({**CDK_CONTEXT, "env": "qa"}, tmp_path)

    assert result.returncode != 0
    assert "unknown environment 'qa'" in result.stderr
    assert "'dev'" in result.stderr
    assert "Traceback" not in result.stderr
