"""`bin/kit readiness` and `cost-estimate` as an operator runs them: foreseeable mistakes are one line."""

from __future__ import annotations

import os
import subprocess

import pytest

from ops.readiness.__main__ import main as readiness_main
from tests.infra.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _kit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO_ROOT / "bin" / "kit"), *args], cwd=REPO_ROOT, env=dict(os.environ), capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip


def _own_lines(stderr: str) -> list[str]:
    """stderr without the JSII runtime's Node.js version banner (lines framed in `!!`)."""
    return [line for line in stderr.splitlines() if line.strip() and "!!" not in line]


def test_unknown_environment_is_one_line_naming_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    # In process (the subprocess below covers bin/kit's wiring); cost-estimate shares ops.synthesis.synthesize
    exit_code = readiness_main(["--env", "qa"])

    captured = capsys.readouterr()
    assert exit_code == 2
    assert captured.out == ""
    assert (
        _own_lines(captured.err)[-1]
        == "cdk.json: unknown environment 'qa'; known: ['dev', 'prod', 'staging']"
    )


def test_negative_traffic_is_refused_before_anything_is_synthesized() -> None:
    result = _kit("cost-estimate", "--env", "dev", "--calls-per-day", "-5")

    assert result.returncode == 2
    assert "cannot be negative" in result.stderr
    assert "Synthesizing" not in result.stderr
