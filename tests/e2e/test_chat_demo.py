"""`make demo` (python -m local.demo): one answer streamed to the terminal, then a clean exit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from local.demo import stream_answer
from local.fake_claude import Fault
from tests.fixtures.chat import ChatClient
from tests.infra.conftest import REPO_ROOT


@pytest.mark.slow
def test_the_demo_streams_one_answer_and_exits_zero() -> None:
    # When the demo runs as `make demo` runs it (no AWS account, no API key), with a fast fake
    environment = {name: value for name, value in os.environ.items() if name != "ANTHROPIC_API_KEY"}
    fast_fake = ["--tokens-per-second", "1000", "--first-token-delay", "0"]
    result = subprocess.run(
        [sys.executable, "-m", "local.demo", *fast_fake, "Hi!"],
        cwd=REPO_ROOT,
        env={**environment, "PYTHONPATH": os.pathsep.join(["functions", "."])},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    # Then it printed the question, the fake's answer and its usage, and exited 0
    assert result.returncode == 0, result.stderr[-2000:]
    assert "This is the fake Claude answering “Hi!”" in result.stdout
    assert "[end_turn: " in result.stdout


def test_the_demo_reports_a_failed_answer(chat: ChatClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Given Claude rate limits with a wait longer than the kit will sit out
    chat.fake.inject(Fault.rate_limited(retry_after=120))

    # When the demo streams an answer
    finished = stream_answer(str(chat.http.base_url), "Hello")

    # Then it says what went wrong, and the demo would exit non-zero
    assert finished is False
    assert "[error rate_limit_error:" in capsys.readouterr().out
