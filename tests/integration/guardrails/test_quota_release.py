"""A chat call's hold is given back when the call never reaches Claude, whatever stops it: a lost turn race,
a client gone after `start`, or a client gone before the response body was ever read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Iterator, MutableMapping
from contextlib import aclosing
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chat_api.app import create_app
from chat_api.conversation import Conversation
from chat_api.errors import ConcurrentTurnError
from chat_api.models import ChatRequest, StartEvent
from chat_api.sessions import Role, SessionStore, Turn
from chat_api.settings import ChatSettings
from claude_kit.calls import CallContext, ClaudeRequest
from claude_kit.context_window import fit_context
from claude_kit.recording import PreparedCall
from claude_kit.reservation import SpendGate
from claude_kit.settings import RuntimeSettings
from claude_kit.transaction import Transaction
from claude_kit.user_quota import Allowance, UserQuota
from claude_kit.worst_case import Charge
from local.chat import create_sessions_table
from local.guardrails import create_quota_table

HOLD_USD = 0.4


class HoldOnly:
    """A Claude service that holds the call's cost through the real gate and must never be called."""

    def __init__(self, gate: SpendGate) -> None:
        self.gate = gate

    def prepare(
        self, request: ClaudeRequest, ctx: CallContext, *, transaction: Transaction | None = None
    ) -> PreparedCall:
        window = fit_context(request.system, request.messages, 40, 100_000)
        hold = self.gate.reserve(ctx, Charge(usd=HOLD_USD, tokens=0), transaction=transaction)
        return PreparedCall(request, ctx, window, hold)

    def stream_prepared(self, prepared: PreparedCall) -> AsyncGenerator[Any]:
        raise AssertionError("Claude was called")

    async def aclose(self) -> None:
        return None


@pytest.fixture
def chat() -> Iterator[tuple[Conversation, SessionStore, Any]]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        create_sessions_table(dynamodb.meta.client, "sessions")
        create_quota_table(dynamodb.meta.client, "quota")
        quota = dynamodb.Table("quota")
        gate = SpendGate(quota=UserQuota(table=quota, default=Allowance(usd=1.0, tokens=None)))
        store = SessionStore(dynamodb.Table("sessions"), ttl_days=30)
        yield Conversation(store, HoldOnly(gate), RuntimeSettings()), store, quota


def committed_usd(quota: Any, user_id: str) -> Decimal:
    item = quota.get_item(Key={"user_id": user_id, "day": datetime.now(UTC).date().isoformat()})["Item"]
    return Decimal(item["committed_usd"])


def test_a_request_that_loses_the_turn_race_gives_its_hold_back(chat, monkeypatch):
    # Given a session whose next turn another request has just taken (this request holds a stale copy)
    conversation, store, quota = chat
    first = conversation.begin(ChatRequest(message="hi"), user_id="u1")
    session_id = first.session.session_id
    stale = store.load(session_id, "u1")
    store.append_user_turn(stale, Turn(role=Role.USER, text="racing", message_id="m-race"))
    monkeypatch.setattr(store, "load_recent", lambda *_, **__: stale)

    # When two more requests on the stale session are refused with 409
    for _ in range(2):
        with pytest.raises(ConcurrentTurnError):
            conversation.begin(ChatRequest(message="again", session_id=session_id), user_id="u1")

    # Then only the first request's hold remains: the refused ones were never written
    assert committed_usd(quota, "u1") == Decimal(str(HOLD_USD))


def test_a_client_gone_after_the_start_event_gives_the_hold_back(chat):
    # Given a begun exchange (its hold taken)
    conversation, _, quota = chat
    exchange = conversation.begin(ChatRequest(message="hi"), user_id="u2")
    assert committed_usd(quota, "u2") == Decimal(str(HOLD_USD))

    # When the client reads the start event and goes away before Claude is called
    async def read_start_then_leave() -> Any:
        async with aclosing(conversation.stream(exchange)) as events:
            return await anext(events)

    first = asyncio.run(read_start_then_leave())

    # Then nothing stays held and Claude was never called
    assert isinstance(first, StartEvent)
    assert committed_usd(quota, "u2") == 0


def test_a_client_gone_before_the_body_is_read_gives_the_hold_back(chat):
    # Given the chat app over the conversation
    conversation, _, quota = chat
    settings = ChatSettings(local_mode=True, sessions_table="sessions")
    app = create_app(settings=settings, runtime=RuntimeSettings(), conversation=lambda: conversation)
    body = json.dumps({"message": "hi"}).encode()
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        # The request, then the client is gone: the server cancels the stream before its body runs.
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        await asyncio.sleep(0)  # a real server's send is I/O: a point where the cancellation lands
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/chat",
        "raw_path": b"/chat",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"x-kit-user-id", b"u3")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }

    # When the request is served to a client that leaves at once
    asyncio.run(app(scope, receive, send))

    # Then the stream body never ran (no SSE frame was sent), and the hold was still given back
    assert not [m for m in sent if m["type"] == "http.response.body" and m.get("body")]
    assert committed_usd(quota, "u3") == 0
