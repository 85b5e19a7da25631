"""`bin/kit dlq redrive` moves every dead letter back to its queue, attributes and all (moto has no SQS
message-move task, so this is also the local stack's redrive)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from infra.config import QueueConfig
from local.batch_queues import QUEUES_VARIABLE, LocalQueue, provision
from ops import kit


@pytest.fixture
def queue() -> Iterator[LocalQueue]:
    with mock_aws():
        env = provision(lambda service: boto3.client(service), "t", [QueueConfig(name="default")])
        (spec,) = json.loads(env[QUEUES_VARIABLE])
        yield LocalQueue(**spec)


def test_every_dead_letter_goes_back_to_its_queue_with_its_attributes(queue: LocalQueue, capsys) -> None:
    # Given 13 messages in the default queue's DLQ, each with the job size attribute enqueue sets
    sqs = boto3.client("sqs")
    dlq_url = sqs.get_queue_url(QueueName="claude-kit-t-default-dlq")["QueueUrl"]
    attributes = {"job_items": {"DataType": "Number", "StringValue": "13"}}
    for n in range(13):
        sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps({"n": n}), MessageAttributes=attributes)

    # When the operator redrives it
    code = kit.main(["dlq", "redrive", "--env", "t", "--queue", "default"])

    # Then all 13 are in the queue, with their attributes, and the DLQ is empty
    assert code == 0
    assert (
        capsys.readouterr().out.strip()
        == "moved 13 message(s) from default's dead-letter queue back to default"
    )
    moved = []
    while batch := sqs.receive_message(
        QueueUrl=queue.url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        moved += batch
        sqs.delete_message_batch(
            QueueUrl=queue.url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    assert sorted(json.loads(m["Body"])["n"] for m in moved) == list(range(13))
    assert {m["MessageAttributes"]["job_items"]["StringValue"] for m in moved} == {"13"}
    assert sqs.receive_message(QueueUrl=dlq_url).get("Messages", []) == []
