"""The consumer reads what it needs from a real-shaped SQS event record, and nothing about Lambda reaches the
domain code."""

from __future__ import annotations

import json
from pathlib import Path

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent

from batch_jobs.consumer import inbound

EVENT = json.loads((Path(__file__).parents[2] / "fixtures" / "events" / "sqs_work_items.json").read_text())


def test_record_becomes_an_inbound_message_with_receive_count_and_job_size():
    first, second = SQSEvent(EVENT).records

    message = inbound(first)

    assert message.message_id == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert json.loads(message.body)["custom_id"] == "review-0001"
    assert message.receive_count == 2
    assert message.expected_items == 1000
    assert inbound(second).expected_items is None
