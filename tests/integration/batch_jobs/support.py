"""The batch queues' world for tests: moto (in-process) provisioned like the stack, the fake Claude, and the
local event source that runs the consumer the way Lambda's SQS event source mapping does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs import models as moto_sqs

from batch_jobs import clients
from batch_jobs.collection import PollReport
from batch_jobs.completion import EVENT_SOURCE
from claude_kit import clients as claude_clients
from claude_kit.aws import aws_client
from infra.config import QueueConfig
from local.batch_queues import LocalLambdaContext, LocalQueue, SqsEventSource, consume, provision, sqs_event
from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer

ENV_NAME = "test"
SECRET_NAME = f"/claude-kit/{ENV_NAME}/anthropic-api-key"


@dataclass
class BatchWorld:
    """The provisioned queues, table and bucket, and the plumbing that runs the functions on them."""

    queues: dict[str, LocalQueue]
    bucket: str
    events_queue_url: str

    def sqs(self) -> Any:
        return aws_client("sqs")

    def source(self, queue: str = "default") -> SqsEventSource:
        return SqsEventSource(self.sqs(), self.queues[queue], partial(consume, self.queues[queue]))

    def consume(self, event: dict[str, Any], queue: str = "default") -> Any:
        return consume(self.queues[queue], event, LocalLambdaContext.new("consumer"))

    def poll(self) -> PollReport:
        from batch_jobs import poller

        return PollReport(**poller.handler({}, LocalLambdaContext.new("poller")))

    def completion_events(self) -> list[dict[str, Any]]:
        messages = self.sqs().receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in messages.get("Messages", [])]

    def object_keys(self, prefix: str) -> list[str]:
        pages = aws_client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def read_object(self, key: str) -> bytes:
        return bytes(aws_client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def send(self, queue: str, bodies: Sequence[str]) -> list[str]:
        """Raw `SendMessage`, as `aws sqs send-message` does it; returns the message ids."""
        url = self.queues[queue].url
        return [self.sqs().send_message(QueueUrl=url, MessageBody=body)["MessageId"] for body in bodies]

    def receive_event(self, queue: str = "default", count: int = 10) -> dict[str, Any]:
        """One real-shaped SQS event of up to `count` messages, left in flight (not deleted)."""
        local = self.queues[queue]
        response = self.sqs().receive_message(
            QueueUrl=local.url,
            MaxNumberOfMessages=count,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return sqs_event(response.get("Messages", []), local, "us-east-1")


def _retention_check(backend: Any, queue_name: str, message: Any) -> bool:
    """moto's own check recomputes every queue attribute (scanning all messages) for each message received,
    which makes draining n messages O(n²): the same rule, reading only the retention period."""
    retention = backend.get_queue(queue_name).message_retention_period
    return bool(message.sent_timestamp / 1000 + int(retention) > time.time())


def _speed_up_moto_sqs(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's SQS scans every message of a queue on each send and receive, asking a datetime-based clock each
    time; at 1,000 messages that dominates the tests. Same semantics, cheaper: the epoch clock and the
    retention check above."""
    monkeypatch.setattr(moto_sqs, "unix_time", time.time)
    monkeypatch.setattr(moto_sqs, "unix_time_millis", lambda: time.time() * 1000)
    monkeypatch.setattr(moto_sqs.SQSBackend, "is_message_valid_based_on_retention_period", _retention_check)


def close_claude_client() -> None:
    """The container's Anthropic client keeps connections to the fake open: close it before forgetting it."""
    if claude_clients.get_clients.cache_info().currsize:
        claude_clients.get_clients().sync_client().close()


def batch_world(
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeClaudeServer,
    queues: Sequence[QueueConfig],
    **environment: str,
) -> Iterator[BatchWorld]:
    _speed_up_moto_sqs(monkeypatch)
    with mock_aws():
        env = provision(partial(boto3.client, region_name="us-east-1"), ENV_NAME, queues)
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=SECRET_NAME, SecretString=PLACEHOLDER_API_KEY
        )
        sqs = boto3.client("sqs", region_name="us-east-1")
        events_queue_url = sqs.create_queue(QueueName="completion-events")["QueueUrl"]
        events_queue_arn = sqs.get_queue_attributes(QueueUrl=events_queue_url, AttributeNames=["QueueArn"])
        events = boto3.client("events", region_name="us-east-1")
        events.put_rule(Name="job-completed", EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
        events.put_targets(
            Rule="job-completed", Targets=[{"Id": "q", "Arn": events_queue_arn["Attributes"]["QueueArn"]}]
        )
        for name, value in {
            **env,
            "KIT_ENV_NAME": ENV_NAME,
            "KIT_API_KEY_SECRET_NAME": SECRET_NAME,
            "KIT_CLAUDE_BASE_URL": fake.base_url,
            # The retry policy's backoff, scaled down: the tests count retries, they do not wait for them.
            "KIT_RETRY_BASE_SECONDS": "0.001",
            "KIT_RETRY_MAX_BACKOFF_SECONDS": "0.001",
            "KIT_RATE_LIMIT_MAX_ATTEMPTS": "2",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "claude-kit-test",
            **environment,
        }.items():
            monkeypatch.setenv(name, value)
        clients.reset()
        made = {spec["name"]: LocalQueue(**spec) for spec in json.loads(env["LOCAL_BATCH_QUEUES"])}
        yield BatchWorld(queues=made, bucket=env["KIT_RESULTS_BUCKET"], events_queue_url=events_queue_url)
        close_claude_client()
        clients.reset()


def work_item(custom_id: str, text: str = "Say hello", **fields: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "custom_id": custom_id,
        "params": {"max_tokens": 64, "messages": [{"role": "user", "content": f"{text} ({custom_id})"}]},
        **fields,
    }
