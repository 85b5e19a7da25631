"""A consumer that finds the switch closed parks its records as fresh copies and asks the guard to pause."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from batch_jobs import spend_pause
from batch_jobs.settings import BatchSettings
from claude_kit import aws
from claude_kit.spend_switch import SwitchState

EVENT = json.loads((Path(__file__).parents[2] / "fixtures" / "events" / "sqs_work_items.json").read_text())
CLOSED = SwitchState(state="closed", reason="claude_daily_budget")


class Invocations:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"StatusCode": 202}


@pytest.fixture
def queue_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        aws.reset()
        yield boto3.client("sqs").create_queue(QueueName="claude-kit-test-default")["QueueUrl"]
        aws.reset()


def test_records_are_parked_with_their_attributes_and_the_guard_is_asked_to_pause(
    queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a consumer whose mapping delivered two records while the switch is closed
    invocations = Invocations()
    real_client = aws.aws_client
    monkeypatch.setattr(
        spend_pause, "aws_client", lambda name: invocations if name == "lambda" else real_client(name)
    )
    settings = BatchSettings(
        queue_url=queue_url,
        spend_guard_function="claude-kit-test-spend-guard",
        paused_redelivery_delay_seconds=0,
    )
    # When it holds them
    response = spend_pause.hold_records(EVENT, settings, CLOSED)
    # Then nothing is handed back to SQS (no receive spent on a retry) ...
    assert response == {"batchItemFailures": []}
    # ... each record waits in the queue as a copy with the same body and attributes, never received yet
    copies = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    )["Messages"]
    assert sorted(copy["Body"] for copy in copies) == sorted(record["body"] for record in EVENT["Records"])
    assert {copy["Attributes"]["ApproximateReceiveCount"] for copy in copies} == {"1"}
    with_items = [copy for copy in copies if "job_items" in copy.get("MessageAttributes", {})]
    assert [copy["MessageAttributes"]["job_items"]["StringValue"] for copy in with_items] == ["1000"]
    # ... and the guard is asked, asynchronously, to finish the closing with the same reason
    (call,) = invocations.calls
    assert call["FunctionName"] == "claude-kit-test-spend-guard"
    assert call["InvocationType"] == "Event"
    assert json.loads(call["Payload"])["cause"] == "claude_daily_budget"
