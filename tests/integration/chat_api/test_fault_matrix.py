"""Every fault the fake Claude can produce, against the chat stream: each request ends in exactly one `done`
or `error`, with HTTP 200 (never a 5xx), and each answer is stored (partial when it failed): nothing is lost.

The service's retry policy decides how many requests a fault costs; the counts asserted here are the ones that
hold whatever it decides: every request accounted for, and Claude called a bounded number of times.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import EndpointConnectionError

from chat_api.sessions import SessionStore
from claude_kit.settings import RuntimeSettings
from claude_kit.transaction import Transaction
from local.fake_claude import FakeClaudeServer, Fault
from local.fake_claude.faults import CallFault
from tests.integration.chat_api.conftest import ChatAppFactory

USER = {"x-kit-user-id": "matrix"}
REQUESTS = 3
#: Fast retries: the matrix counts outcomes, it does not wait for backoff.
RUNTIME = RuntimeSettings(
    max_tokens_cap=256,
    retry_base_seconds=0.001,
    retry_max_backoff_seconds=0.002,
    stream_read_timeout_seconds=5,
)

FAULTS: dict[str, CallFault] = {
    "rate_limited": Fault.rate_limited(retry_after=0),
    "overloaded": Fault.overloaded(),
    "api_error": Fault.api_error(),
    "stall": Fault.stall(seconds=0.2, after_events=2),
    "cut_stream": Fault.cut_stream(after_events=4),
    "stream_error": Fault.stream_error(after_events=4),
    "slow_stream": Fault.slow_stream(tokens_per_second=400),
}


def events(raw: str) -> list[tuple[str, dict[str, Any]]]:
    parsed = []
    for frame in raw.split("\n\n"):
        lines = frame.splitlines()
        if lines and lines[0].startswith("event: "):
            parsed.append((lines[0].removeprefix("event: "), json.loads(lines[1].removeprefix("data: "))))
    return parsed


@pytest.mark.parametrize("kind", list(FAULTS))
def test_each_fault_ends_every_chat_request_in_done_or_error_and_loses_nothing(
    chat_app: ChatAppFactory, fake_claude: FakeClaudeServer, kind: str
) -> None:
    # Given the fault queued twice per request (enough to exhaust a retry), and an invalid request beside them
    client = chat_app(runtime=RUNTIME)
    fake_claude.inject(*[FAULTS[kind]] * (2 * REQUESTS))
    invalid = client.post("/chat", json={"message": "\u200b"}, headers=USER)
    assert invalid.status_code == 422
    assert fake_claude.message_calls() == []

    # When the requests arrive one after another
    outcomes = []
    for number in range(REQUESTS):
        response = client.post("/chat", json={"message": f"Question {number}"}, headers=USER)
        assert response.status_code == 200, response.text  # the stream started: failures are events
        streamed = events(response.text)
        names = [name for name, _ in streamed]
        # Then each stream is one start, deltas, and exactly one final event, last
        assert names[0] == "start"
        assert names[-1] in ("done", "error")
        assert names.count("done") + names.count("error") == 1
        outcomes.append((streamed[0][1]["session_id"], names[-1], streamed[-1][1]))

    # and every request is accounted for, with Claude called a bounded number of times
    finals = [final for _, final, _ in outcomes]
    assert finals.count("done") + finals.count("error") == REQUESTS
    assert len(fake_claude.message_calls()) <= REQUESTS * 3
    for _, final, data in outcomes:
        if final == "error":
            assert data["type"]
            assert data["message"]
    # and each session holds the question and its answer, partial exactly when the stream ended in error
    table = chat_app.table  # type: ignore[attr-defined]
    for session_id, final, _ in outcomes:
        turns = table.query(KeyConditionExpression=Key("session_id").eq(session_id))["Items"]
        turns = [turn for turn in turns if "role" in turn]
        assert [turn["role"] for turn in turns] == ["user", "assistant"], turns
        assert turns[1]["partial"] is (final == "error")


def test_an_answer_the_sessions_table_cannot_store_still_ends_in_done(
    chat_app: ChatAppFactory, fake_claude: FakeClaudeServer, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    # Given a sessions table that fails every write of an answer (an outage after the question was stored)
    client = chat_app(runtime=RUNTIME)
    commit = SessionStore.commit

    def failing_answers(store: SessionStore, transaction: Transaction) -> None:
        if transaction_puts_an_answer(transaction):
            raise EndpointConnectionError(endpoint_url="https://dynamodb.invalid")
        commit(store, transaction)

    monkeypatch.setattr(SessionStore, "commit", failing_answers)

    # When a question is answered
    response = client.post("/chat", json={"message": "Question"}, headers=USER)

    # Then the user gets the whole answer and `done`, and the lost write is logged, not turned into an error
    streamed = events(response.text)
    assert [name for name, _ in streamed][-1] == "done"
    assert "Answer not stored: the sessions table failed" in caplog.text
    # (the whole answer: the same question answered with the table working again gets the same text)
    monkeypatch.setattr(SessionStore, "commit", commit)
    control = events(client.post("/chat", json={"message": "Question"}, headers=USER).text)
    assert delta_text(streamed) == delta_text(control) != ""


def delta_text(streamed: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(data["text"] for name, data in streamed if name == "delta")


def transaction_puts_an_answer(transaction: Transaction) -> bool:
    return any(item.get("Put", {}).get("Item", {}).get("role") == "assistant" for item in transaction.items)
