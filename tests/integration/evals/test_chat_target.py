"""`--target chat`: the same set through the chat API over HTTP (SSE), as a deployed endpoint is evaluated;
here the local stack's chat API (uvicorn, moto, the fake Claude)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.fake_claude import Fault, ScriptedReply
from ops.evals.runner import run_realtime
from ops.evals.targets import ChatTarget
from tests.fixtures.chat import ChatClient
from tests.integration.evals.conftest import Evals, judged, write_set

pytestmark = pytest.mark.slow  # starts the local stack (moto server, chat API): seconds

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


@pytest.fixture
def target(chat: ChatClient) -> Iterator[ChatTarget]:
    target = ChatTarget(str(chat.http.base_url.join("/chat")), user_id="eval-user")
    yield target
    target.close()


def test_a_set_runs_through_the_chat_endpoint(chat: ChatClient, target: ChatTarget, tmp_path: Path) -> None:
    # Given the chat API's Claude answering, and a judge (the runtime core, here on the same fake)
    chat.fake.configure(
        scripted_replies=[judged("refund", 5), ScriptedReply(contains="refunds", text=ANSWER)]
    )
    evals = Evals.on(chat.fake)
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
    [call] = [c for c in chat.fake.message_calls() if c.body.get("system") is None]
    assert call.body["messages"][-1]["content"] == "How long do refunds take?"


def test_an_error_event_makes_an_error_run(chat: ChatClient, target: ChatTarget, tmp_path: Path) -> None:
    chat.fake.inject(Fault.stream_error(after_events=4, error_type="invalid_request_error"))
    [result] = run_realtime([write_set(tmp_path, SET)], target, Evals.on(chat.fake).service)
    assert result.metrics().error_rate == 1.0
    assert result.first_error() is not None
    assert result.first_error().startswith("invalid_request_error: ")


def test_a_conversation_is_refused_by_the_chat_target(
    chat: ChatClient, target: ChatTarget, tmp_path: Path
) -> None:
    text = SET.replace(
        "    prompt: How long do refunds take?\n",
        "    conversation:\n      - {role: user, content: Hi}\n      - {role: assistant, content: Hello}\n"
        "      - {role: user, content: Any refund}\n",
    )
    [result] = run_realtime([write_set(tmp_path, text)], target, Evals.on(chat.fake).service)
    assert result.first_error() == (
        "unsupported: the chat endpoint takes one message per call: use a prompt, or --target core"
    )
