"""The money brakes seen from the chat API of the local stack: the spend guard, fed the daily cost alarm's SNS
notification, makes it answer 503; a user over their daily allowance gets 429. Neither reaches Claude."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from local.stack import LocalStack
from tests.fixtures.alert_messages import alarm_message, sns_event
from tests.fixtures.chat import ChatClient
from tests.fixtures.spend_guard import BRAKE_ALARM, LambdaContext


def test_the_daily_cost_alarm_makes_the_chat_api_answer_503_without_calling_claude(
    chat: ChatClient, spend_guard: Any
) -> None:
    # Given a chat API that answers
    assert chat.post(message="Are you there?", stream=False).status_code == 200
    calls_before = len(chat.fake.message_calls())
    # When the daily cost alarm's notification reaches the spend guard
    spend_guard(sns_event(alarm_message(BRAKE_ALARM)), LambdaContext())
    # Then the next message is refused with 503 and the error's type, and Claude never sees it
    response = chat.post(message="And now?", stream=True)
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "spend_guard_closed"
    assert (
        response.json()["error"]["message"]
        == "The service is paused: its daily Claude budget has been reached"
    )
    assert len(chat.fake.message_calls()) == calls_before


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ({"cause": "operator"}, "The service is paused by its operators"),
        (
            {"cause": "claude_monthly_budget"},
            "The service is paused: its monthly Claude budget has been reached",
        ),
        ({"cause": "aws_budget"}, "The service is paused: its monthly AWS budget has been reached"),
    ],
    ids=["operator", "monthly-claude", "aws-budget"],
)
def test_the_503_names_the_brake_that_closed_the_switch(
    chat: ChatClient, spend_guard: Any, command: dict[str, str], message: str
) -> None:
    # Given a switch closed by a command with a cause (an operator, the monthly brake)
    spend_guard({"action": "close", "reason": "why", "requested_by": "tests", **command}, LambdaContext())
    # When someone chats
    response = chat.post(message="Hello?", stream=False)
    # Then the 503 says which brake, never the operator's own words
    assert response.status_code == 503
    assert response.json()["error"]["message"] == message
    assert chat.fake.message_calls() == []


def test_a_user_over_the_daily_allowance_gets_429_without_calling_claude(
    chat: ChatClient, local_stack_env: LocalStack
) -> None:
    # Given a user whose spend today has reached the allowance
    allowance = Decimal(local_stack_env.env["KIT_USER_DAILY_USD_ALLOWANCE"])
    table = boto3.resource("dynamodb").Table(local_stack_env.env["KIT_QUOTA_TABLE"])
    table.put_item(
        Item={
            "user_id": "big-spender",
            "day": datetime.now(UTC).date().isoformat(),
            "committed_usd": allowance,
            "spent_usd": allowance,
        }
    )
    # When they send a message
    response = chat.post(user="big-spender", message="One more question", stream=True)
    # Then it is refused with 429 and a message they can act on, and Claude never sees it
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["type"] == "quota_exceeded"
    assert "midnight UTC" in error["message"]
    assert chat.fake.message_calls() == []
