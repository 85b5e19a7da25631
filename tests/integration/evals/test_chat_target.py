"""`--target chat`: a set through the chat API over HTTP (SSE), as a deployed endpoint is evaluated; here the
chat app under uvicorn on 127.0.0.1, its sessions in moto (in process), Claude the fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx2
import pytest
from moto import mock_aws

from chat_api import lifecycle
from chat_api.app import create_app
from local.chat import create_sessions_table
from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer, Fault, ScriptedReply
from local.serving import BackgroundServer
from ops.evals.runner import run_realtime
from ops.evals.targets import ChatTarget
from tests.integration.evals.conftest import Evals, judged, write_set

SET = """\
version: 1
id: chat
scenarios:
  - id: refund
    prompt: How long do refunds take?
    max_tokens: 200
    expect:
      - contains: [refund]
      - stop_reason: end_turn
      - max_cost_usd: 0.01
      - judge: {rubric: States the delay., min_score: 4}
"""
ANSWER = "A refund takes 5 business days."


@pytest.fixture(scope="module")
def chat_api(fake_claude_server: FakeClaudeServer) -> Iterator[str]:
    """The chat app with the production factories, configured like the local stack (local mode)."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        env.setenv("KIT_CLAUDE_BASE_URL", fake_claude_server.base_url)
        env.setenv("KIT_API_KEY_SECRET_NAME", "claude-kit/eval/key")
        env.setenv("KIT_CHAT_SESSIONS_TABLE", "sessions")
        env.setenv("KIT_CHAT_LOCAL_MODE", "true")
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secrets.create_secret(Name="claude-kit/eval/key", SecretString=PLACEHOLDER_API_KEY)
        create_sessions_table(boto3.client("dynamodb", region_name="us-east-1"), "sessions")
        server = BackgroundServer(create_app(), name="chat API")
        server.start()
        try:
            yield server.base_url
        finally:
            server.stop()


@pytest.fixture
def target(chat_api: str, fake_claude: FakeClaudeServer) -> Iterator[ChatTarget]:
    target = ChatTarget(f"{chat_api}/chat", user_id="eval-user")
    yield target
    target.close()
    # The app's connections to Claude belong to its event loop: let it close them before the next test.
    httpx2.post(f"{chat_api}{lifecycle.BEFORE_CHECKPOINT_PATH}").raise_for_status()


def test_a_set_runs_through_the_chat_endpoint(
    fake_claude: FakeClaudeServer, target: ChatTarget, tmp_path: Path
) -> None:
    # Given the chat API's Claude answering, and a judge (the runtime core, here on the same fake)
    fake_claude.configure(
        scripted_replies=[judged("refund", 5), ScriptedReply(contains="refunds", text=ANSWER)]
    )
    evals = Evals.on(fake_claude)
    # When the set runs against the chat endpoint
    [result] = run_realtime([write_set(tmp_path, SET)], target, evals.service)
    # Then the answer, its usage and cost come from the stream's events and every check passes
    assert result.passed, [c.detail for c in result.checks()]
    run = result.runs[0]
    assert run.answer is not None
    assert run.answer.text == ANSWER
    assert run.answer.output_tokens == len(ANSWER.split())
    assert run.answer.cost_usd is not None
    assert run.answer.cost_usd > 0
    # and the user's message reached Claude through the chat API
    [call] = [c for c in fake_claude.message_calls() if c.body.get("system") is None]
    assert call.body["messages"][-1]["content"] == "How long do refunds take?"


def test_an_error_event_makes_an_error_run(
    fake_claude: FakeClaudeServer, target: ChatTarget, tmp_path: Path
) -> None:
    fake_claude.inject(Fault.stream_error(after_events=4, error_type="invalid_request_error"))
    [result] = run_realtime([write_set(tmp_path, SET)], target, Evals.on(fake_claude).service)
    assert result.metrics().error_rate == 1.0
    first = result.first_error()
    assert first is not None
    assert first.startswith("invalid_request_error: ")


def test_a_conversation_is_refused_by_the_chat_target(
    fake_claude: FakeClaudeServer, target: ChatTarget, tmp_path: Path
) -> None:
    text = SET.replace(
        "    prompt: How long do refunds take?\n",
        "    conversation:\n      - {role: user, content: Hi}\n      - {role: assistant, content: Hello}\n"
        "      - {role: user, content: Any refund}\n",
    )
    [result] = run_realtime([write_set(tmp_path, text)], target, Evals.on(fake_claude).service)
    assert result.first_error() == (
        "unsupported: the chat endpoint takes one message per call: use a prompt, or --target core"
    )
