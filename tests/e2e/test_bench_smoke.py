"""`make bench`, shrunk to seconds: its processes start, talk over loopback, and it publishes its figures.

No figure is asserted (machines are noisy); what is checked is that every row of the chat section is there,
with a target where the issue sets one, in both published files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_a_tiny_bench_run_publishes_every_chat_row_with_its_target(tmp_path: Path) -> None:
    # When the chat section runs once, with ten-delta answers, writing into a scratch directory
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.bench",
            "chat",
            "--repeat",
            "1",
            "--words",
            "10",
            "--output",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    # Then the results file holds each chat figure, measured, with the targets where it sets them
    rows = {
        row["name"]: row
        for row in json.loads((tmp_path / "bench/results.json").read_text())["areas"]["chat"]["rows"]
    }
    limits = {name: row["limit"] for name, row in rows.items() if row["limit"] is not None}
    assert limits == {
        "total time, kit / direct SDK": 1.3,
        "added time to first delta (kit − SDK)": 5.0,
        "chat server CPU per answer": 20.0,
        "AWS calls per chat request (steady state)": 3,
        "AWS calls before the first delta, new session": 1,
        "AWS calls before the first delta, existing session": 2,
    }
    assert rows["total time, direct SDK"]["value"] > 0
    assert rows["AWS calls per chat request (steady state)"]["value"] >= 1  # moto counted the calls
    # And the report people read names the command to rerun it, and every figure
    report = (tmp_path / "docs/BENCHMARKS.md").read_text()
    assert "`.venv/bin/python -m scripts.bench chat`" in report
    assert all(f"| {name} |" in report for name in rows)
