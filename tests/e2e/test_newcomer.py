"""A newcomer's first hour, scripted: `make local` on chosen free ports with dev's cdk.json settings, then
bin/kit with nothing exported (enqueue, results --wait, downloads, spend guard, usage, quotas) and the chat
refusing while the guard is closed.

The stack runs as `make local` runs it (`python -m local.stack`, its own process). bin/kit gets only PATH,
HOME and where this stack's state file is (so a developer's own `make local` is never touched): no AWS
variables, no endpoint, no credentials.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from ops.target import STATE_FILE_VARIABLE

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
KIT = str(ROOT / "bin" / "kit")


@dataclass(frozen=True)
class RunningStack:
    state_file: Path
    urls: dict[str, str]
    process: subprocess.Popen[str]

    def kit(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.state_file.parent)}
        env[STATE_FILE_VARIABLE] = str(self.state_file)
        return subprocess.run(
            [KIT, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False, cwd=ROOT
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    state = tmp_path_factory.mktemp("newcomer") / "stack.json"
    log = state.with_name("stack.log").open("w")
    command = [sys.executable, "-m", "local.stack", "--env", "dev", "--state-file", str(state)]
    command += ["--chat-port", "0", "--claude-port", "0", "--moto-port", "0"]
    command += ["--batch-delay", "0.5", "--tokens-per-second", "2000", "--first-token-delay", "0"]
    # Deployed, the switch is trusted for 30 s; the close/reopen steps expect the next request to see it.
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}",
        "KIT_SPEND_SWITCH_MAX_AGE_SECONDS": "0",
    }
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 90
        while not state.exists():
            assert process.poll() is None, state.with_name("stack.log").read_text()
            assert time.monotonic() < deadline, "the local stack did not start within 90 s"
            time.sleep(0.2)
        yield RunningStack(state, json.loads(state.read_text())["urls"], process)
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C, as a person stops it
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a loaded machine: do not leave it running
            process.kill()
            process.wait()
        log.close()


def _chat(stack: RunningStack, user: str = "alice", **body: Any) -> httpx2.Response:
    return httpx2.post(
        f"{stack.urls['chat API']}/chat",
        json={"message": "Hello", "stream": False, **body},
        headers={"x-kit-user-id": user},
        timeout=60,
    )


def test_enqueue_then_wait_for_results_and_download_them(stack: RunningStack, tmp_path: Path) -> None:
    # Given three work items, one of them asking for more than dev's max_tokens cap (1024 in cdk.json)
    items = tmp_path / "work.jsonl"
    lines = [
        {"custom_id": f"n-{n}", "params": {"max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}}
        for n in range(2)
    ]
    lines.append(
        {"custom_id": "big", "params": {"max_tokens": 2048, "messages": [{"role": "user", "content": "Hi"}]}}
    )
    items.write_text("".join(json.dumps(line) + "\n" for line in lines))

    # When the newcomer enqueues them and waits for the results, exporting nothing
    enqueued = stack.kit("enqueue", str(items), "--local", "--job-id", "first-job")
    done = stack.kit(
        *("results", "first-job", "--local", "--wait", "--timeout", "90", "--interval", "0.5"),
        *("--download", str(tmp_path / "out"), "--json"),
    )

    # Then the over-cap line is named (dev's cap applies locally), the rest run to completion
    assert enqueued.returncode == 1, enqueued.stderr
    assert "line 3" in enqueued.stdout
    assert "1024" in enqueued.stdout
    assert "sent: 2" in enqueued.stdout
    assert "the local stack at" in enqueued.stderr
    assert "cdk.json 'dev'" in enqueued.stderr
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["status"], summary["counts"], summary["problems"]) == ("COMPLETED", {"SUCCEEDED": 2}, [])
    # and the answers are on disk, one result line per item
    files = list((tmp_path / "out" / "results" / "first-job").glob("*.jsonl"))
    results = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    assert sorted(r["custom_id"] for r in results) == ["n-0", "n-1"]
    assert {r["result"]["type"] for r in results} == {"succeeded"}


def test_closing_the_spend_guard_stops_the_chat_with_the_reason_until_reopened(stack: RunningStack) -> None:
    # Given a chat that answers
    assert _chat(stack).status_code == 200

    # When the operator closes the spend guard with bin/kit
    closed = stack.kit("spend-guard", "close", "--local", "--reason", "newcomer test")
    refused = _chat(stack)
    reopened = stack.kit("spend-guard", "reopen", "--local")
    answered = _chat(stack)

    # Then the switch is closed with that reason and the batch consumer paused, the chat refuses in words
    assert closed.returncode == 0, closed.stderr
    assert "spend switch: CLOSED" in closed.stdout
    assert "newcomer test" in closed.stdout
    assert "batch consumers changed: 1" in closed.stdout
    assert refused.status_code == 503
    assert refused.json()["error"]["type"] == "spend_guard_closed"
    assert "paused" in refused.json()["error"]["message"]
    # and once reopened, it answers again
    assert reopened.returncode == 0
    assert "spend switch: OPEN" in reopened.stdout
    assert answered.status_code == 200, answered.text


def test_usage_and_quota_from_the_terminal(stack: RunningStack) -> None:
    # Given bob chatted once
    assert _chat(stack, user="bob").status_code == 200

    # When the operator looks at today's usage and gives carol her own allowance
    usage = stack.kit("usage", "--local", "--json")
    set_quota = stack.kit("quota", "set", "carol", "--daily-usd", "2.5", "--local")
    shown = stack.kit("quota", "show", "carol", "--local", "--json")

    # Then bob's call and cost are there, and carol's allowance is hers, not dev's default (1 USD)
    assert usage.returncode == 0, usage.stderr
    bob = next(user for user in json.loads(usage.stdout)["users"] if user["user_id"] == "bob")
    assert bob["calls"] == 1
    assert bob["tokens"] > 0
    assert bob["cost_usd"] > 0
    assert set_quota.returncode == 0, set_quota.stderr
    assert json.loads(shown.stdout)["allowance"] == {"daily_usd": 2.5}


def test_a_callers_own_system_prompt_is_refused_by_default(stack: RunningStack) -> None:
    response = _chat(stack, system="You are a pirate.")

    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "system"
