"""What one chat turn costs in AWS round trips, with every brake on (spend switch, user quota), counted on the
clients themselves; and that the money written in those round trips is exactly what the fake Claude billed.

The counts are the contract the issue set: one write before the first token of a new session, a read and a
write for an existing one, one write after the answer.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SSMProvider
from fastapi.testclient import TestClient
from moto import mock_aws

from chat_api.app import create_app
from chat_api.conversation import Conversation
from chat_api.sessions import SessionStore
from chat_api.settings import ChatSettings
from claude_kit.clients import ClaudeClients
from claude_kit.reservation import SpendGate
from claude_kit.service import ClaudeService
from claude_kit.settings import RuntimeSettings
from claude_kit.spend_switch import SpendSwitch
from claude_kit.user_quota import Allowance, UserQuota
from local.chat import create_sessions_table
from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer
from local.guardrails import create_quota_table
from tests.fixtures.ledger import billed_cost

USER = {"x-kit-user-id": "ada"}
SWITCH = "/claude-kit/test/spend-switch"


@dataclass
class Counted:
    client: TestClient
    calls: Counter[str]
    quota: Any
    sessions: Any

    def chat(self, body: dict[str, Any]) -> tuple[str, int, int]:
        """One streamed turn: its session id, the AWS calls before its first delta, and in all."""
        start = sum(self.calls.values())
        before_first: int | None = None
        session_id = ""
        with self.client.stream("POST", "/chat", json=body, headers=USER) as response:
            assert response.status_code == 200, response.read()
            event = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "start":
                    session_id = json.loads(line.removeprefix("data: "))["session_id"]
                elif line.startswith("data: ") and event == "delta" and before_first is None:
                    before_first = sum(self.calls.values()) - start
        assert before_first is not None, "no delta arrived"
        return session_id, before_first, sum(self.calls.values()) - start


@pytest.fixture
def counted(fake_claude: FakeClaudeServer) -> Iterator[Counted]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        ssm = boto3.client("ssm", region_name="us-east-1")
        create_sessions_table(dynamodb.meta.client, "sessions")
        create_quota_table(dynamodb.meta.client, "quota")
        ssm.put_parameter(Name=SWITCH, Type="String", Value=json.dumps({"state": "open"}))
        calls: Counter[str] = Counter()
        for client in (dynamodb.meta.client, ssm):
            client.meta.events.register("before-call.*.*", lambda model, **_: calls.update([model.name]))
        runtime = RuntimeSettings(max_tokens_cap=256)
        gate = SpendGate(
            switch=SpendSwitch(
                provider=SSMProvider(boto3_client=ssm), parameter_name=SWITCH, max_age_seconds=30
            ),
            quota=UserQuota(table=dynamodb.Table("quota"), default=Allowance(usd=5.0, tokens=None)),
        )
        claude = ClaudeClients(api_key=lambda _force: PLACEHOLDER_API_KEY, base_url=fake_claude.base_url)
        service = ClaudeService(clients=claude, settings=runtime, gate=gate)
        conversation = Conversation(SessionStore(dynamodb.Table("sessions"), ttl_days=1), service, runtime)
        app = create_app(
            settings=ChatSettings(sessions_table="sessions", local_mode=True),
            runtime=runtime,
            conversation=lambda: conversation,
        )
        with TestClient(app) as client:
            yield Counted(client, calls, dynamodb.Table("quota"), dynamodb.Table("sessions"))
            client.portal.call(service.aclose)  # type: ignore[union-attr]


def test_a_turn_costs_at_most_three_round_trips_and_one_before_a_new_sessions_first_token(
    counted: Counted, fake_claude: FakeClaudeServer
) -> None:
    # Given a container that has served the user once (the switch and the allowance are read and cached)
    counted.chat({"message": "warm up"})
    counted.calls.clear()

    # When the user starts a new session and continues it for three more turns
    session_id, first_before, first_total = counted.chat({"message": "Hello"})
    later = [counted.chat({"message": f"More {n}", "session_id": session_id}) for n in range(3)]

    # Then a new session's first token waits on one write, an existing one's on a read and a write,
    # and each turn costs one more write after the answer
    assert (first_before, first_total) == (1, 2)
    assert {(before, total) for _, before, total in later} == {(2, 3)}
    assert counted.calls == Counter({"TransactWriteItems": 8, "Query": 3})

    # And the money written in those transactions is what the fake billed, to the nano-dollar
    day = counted.quota.get_item(Key={"user_id": "ada", "day": datetime.now(UTC).date().isoformat()})["Item"]
    billed = Decimal(str(billed_cost(fake_claude.ledger()))).quantize(Decimal("1e-9"))
    assert day["spent_usd"] == billed
    assert day["committed_usd"] == billed  # every hold settled: nothing left held
    assert day["calls"] == 5
    # And by model (what `bin/kit usage` shows): one model answered every turn, so it carries it all
    models = {entry.model for entry in fake_claude.ledger()}
    assert [(model, day[f"usd:{model}"], day[f"calls:{model}"]) for model in models] == [
        (RuntimeSettings().model, billed, 5)
    ]
