"""A quota reservation for a chat call that never reaches Claude is given back, not kept until midnight."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import aclosing
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chat_api.conversation import Conversation
from chat_api.errors import ConcurrentTurnError
from chat_api.models import ChatRequest, StartEvent
from chat_api.sessions import Role, SessionStore, Turn
from claude_kit.guardrails import Allowance, UserQuotaGuard
from claude_kit.settings import RuntimeSettings
from local.chat import create_sessions_table
from local.guardrails import create_quota_table

RESERVATION_USD = 0.4


class NoClaude:
    """The Claude service of a call that must never start."""

    def stream(self, *args: Any, **kwargs: Any) -> Any:
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
        guard = UserQuotaGuard(
            table=quota,
            default=Allowance(usd=1.0, tokens=None),
            reservation_usd=RESERVATION_USD,
            reservation_tokens=0,
        )
        store = SessionStore(dynamodb.Table("sessions"), ttl_days=30)
        yield Conversation(store, NoClaude(), RuntimeSettings(), guards=[guard]), store, quota


def committed_usd(quota: Any, user_id: str) -> Decimal:
    item = quota.get_item(Key={"user_id": user_id, "day": datetime.now(UTC).date().isoformat()})["Item"]
    return Decimal(item["committed_usd"])


def test_a_request_that_loses_the_turn_race_gives_its_reservation_back(chat, monkeypatch):
    # Given a session whose next turn another request has just taken (this request holds a stale copy)
    conversation, store, quota = chat
    first = conversation.begin(ChatRequest(message="hi"), user_id="u1")
    session_id = first.session.session_id
    stale = store.load(session_id, "u1")
    store.append_user_turn(stale, Turn(role=Role.USER, text="racing", message_id="m-race"))
    monkeypatch.setattr(store, "load", lambda *_: stale)

    # When two more requests on the stale session are refused with 409
    for _ in range(2):
        with pytest.raises(ConcurrentTurnError):
            conversation.begin(ChatRequest(message="again", session_id=session_id), user_id="u1")

    # Then only the first request's reservation is held
    assert committed_usd(quota, "u1") == Decimal(str(RESERVATION_USD))


def test_a_client_gone_after_the_start_event_gives_the_reservation_back(chat):
    # Given a begun exchange (its reservation held)
    conversation, _, quota = chat
    exchange = conversation.begin(ChatRequest(message="hi"), user_id="u2")
    assert committed_usd(quota, "u2") == Decimal(str(RESERVATION_USD))

    # When the client reads the start event and goes away before Claude is called
    async def read_start_then_leave() -> Any:
        async with aclosing(conversation.stream(exchange)) as events:
            return await anext(events)

    first = asyncio.run(read_start_then_leave())

    # Then nothing stays reserved and Claude was never called
    assert isinstance(first, StartEvent)
    assert committed_usd(quota, "u2") == 0
