"""A running fake (`make local`) is driven over HTTP and from its command line."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import anthropic
import httpx2
import pytest

from local.fake_claude import FakeClaudeServer
from tests.integration.fake_claude.conftest import MODEL, ask

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_faults_posted_over_http_reach_the_next_calls(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    # When two rate limits and an overload are queued with a spec and a JSON object
    response = httpx2.post(
        f"{fake_claude.base_url}/_fake/faults", json=["rate_limited:2,retry_after=7", {"kind": "overloaded"}]
    )
    # Then the next three calls fail in that order
    assert response.status_code == 200
    assert len(response.json()["injected"]) == 3
    for expected in (anthropic.RateLimitError, anthropic.RateLimitError, anthropic.OverloadedError):
        with pytest.raises(expected):
            client.messages.create(model=MODEL, max_tokens=10, messages=ask())


def test_a_fault_the_fake_does_not_know_is_refused_over_http(fake_claude: FakeClaudeServer) -> None:
    response = httpx2.post(f"{fake_claude.base_url}/_fake/faults", json=["teleport"])
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_reset_over_http_forgets_requests(fake_claude: FakeClaudeServer, client: anthropic.Anthropic) -> None:
    client.messages.create(model=MODEL, max_tokens=10, messages=ask())
    response = httpx2.post(f"{fake_claude.base_url}/_fake/reset")
    assert response.status_code == 204
    assert fake_claude.requests == []


def test_the_command_line_starts_the_fake_with_faults_and_stops_on_ctrl_c() -> None:
    # Given the fake started from the command line on a free port with an overload queued
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.fake_claude",
            "--port",
            "0",
            "--fault",
            "overloaded",
            "--tokens-per-second",
            "1000",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()  # "fake Claude: http://127.0.0.1:PORT  (API key …)"
        base_url = banner.split()[2]
        # When it is called
        with anthropic.Anthropic(
            base_url=base_url, api_key="sk-ant-placeholder-test-key", max_retries=0
        ) as sdk:
            with pytest.raises(anthropic.OverloadedError):
                sdk.messages.create(model=MODEL, max_tokens=10, messages=ask())
            answer = sdk.messages.create(model=MODEL, max_tokens=10, messages=ask())
        # Then the queued fault came first, then an answer; and Ctrl-C stops it cleanly
        assert answer.content
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
