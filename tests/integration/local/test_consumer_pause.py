"""Closing the spend switch locally pauses the batch consumers as on AWS: the guard's own code disables the
consumers' event source mappings (on moto), and the local event source then leaves work waiting in SQS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.config import QueueConfig
from local.batch_queues import QUEUES_VARIABLE, LocalQueue, SqsEventSource, provision
from local.guardrails import spend_guard_environment
from ops.guard_cli import _invoke_handler

SWITCH = "/claude-kit/t/spend-switch"


@pytest.fixture
def aws() -> Iterator[dict[str, str]]:
    with mock_aws():
        env = provision(lambda service: boto3.client(service), "t", [QueueConfig(name="default")])
        boto3.client("ssm").put_parameter(Name=SWITCH, Type="String", Value='{"state": "open"}')
        yield {
            **env,
            "KIT_ENV_NAME": "t",
            "KIT_SPEND_SWITCH_PARAMETER": SWITCH,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }


def _guard(env: dict[str, str], action: str) -> dict[str, Any]:
    return _invoke_handler(spend_guard_environment(env), {"action": action, "reason": "test"})


def test_a_closed_switch_leaves_work_in_the_queue_until_reopened(aws: dict[str, str]) -> None:
    # Given a queue with one message, served by a local event source whose consumer records what it gets
    (spec,) = json.loads(aws[QUEUES_VARIABLE])
    queue = LocalQueue(**spec)
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queue.url, MessageBody="{}")
    consumed: list[int] = []

    def consumer(event: dict[str, Any], _context: object) -> dict[str, Any]:
        consumed.append(len(event["Records"]))
        return {"batchItemFailures": []}

    source = SqsEventSource(sqs, queue, consumer, lambda_client=boto3.client("lambda"))

    # When the guard closes the switch
    closed = _guard(aws, "close")
    paused = source.deliver()
    # Then its consumer mapping is disabled, nothing is delivered and the message waits in SQS
    assert closed["outcomes"][0]["mappings_changed"] == [queue.mapping_uuid]
    assert (paused.received, consumed) == (0, [])
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"

    # When it reopens, the waiting message is delivered
    _guard(aws, "reopen")
    resumed = source.deliver()
    assert (resumed.received, consumed) == (1, [1])
