"""Batch intake under hostile senders and Lambda's own retries: nothing vanishes, nothing is done twice.

A raw SQS sender may reuse a custom_id with another body or put anything in a message attribute; the
EventBridge Scheduler invokes the poller asynchronously, so Lambda may deliver the same scheduled event twice.
"""

from __future__ import annotations

import json
from typing import Any

from batch_jobs import clients
from batch_jobs.jobs import job_summary
from local.batch_queues import LocalLambdaContext
from local.fake_claude import FakeClaudeServer
from tests.integration.batch_jobs.support import BatchWorld, work_item

#: What EventBridge Scheduler delivers to a Lambda target (its fields, as documented for scheduled events).
SCHEDULED_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "Scheduled Event",
    "source": "aws.scheduler",
    "account": "123456789012",
    "time": "2026-12-06T09:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/claude-kit-test-poller"],
    "detail": "{}",
}


def rejections(world: BatchWorld) -> dict[str, dict[str, Any]]:
    records = (json.loads(world.read_object(key)) for key in world.object_keys("rejections/"))
    return {record["message_id"]: record for record in records}


def test_a_custom_id_reused_with_a_different_body_is_rejected_as_duplicate_and_counted(
    world: BatchWorld, fake_claude: FakeClaudeServer
) -> None:
    # Given two raw messages of one job with the same custom_id but different questions, and a later third
    first = json.dumps(work_item("same", text="First question", job_id="job-dup"))
    second = json.dumps(work_item("same", text="Another question", job_id="job-dup"))
    first_id, second_id = world.send("default", [first, second])

    # When the consumer gets both in one invocation, then the second again on its own (a redelivery)
    response = world.consume(world.receive_event("default"))
    world.sqs().send_message(QueueUrl=world.queues["default"].url, MessageBody=second)
    later = world.consume(world.receive_event("default"))

    # Then only the first reached Claude; each different body is a REJECTED record with reason `duplicate`
    assert response == later == {"batchItemFailures": []}
    assert fake_claude.batch_custom_ids() == ["same"]
    refused = rejections(world)
    assert first_id not in refused
    assert len(refused) == 2
    assert {record["reason"] for record in refused.values()} == {"duplicate"}
    assert second_id in refused
    assert "already taken in job 'job-dup'" in refused[second_id]["errors"][0]
    # and `results` shows them beside the item that was accepted
    summary = job_summary(clients.get_job_store(), "job-dup")
    assert summary is not None
    assert summary.counts == {"PENDING": 1, "REJECTED": 2}
    duplicates = list(clients.get_job_store().items("job-dup", states=["REJECTED"]))
    assert {record["error_type"] for record in duplicates} == {"duplicate"}


def test_the_same_body_delivered_again_is_still_a_silent_redelivery(
    world: BatchWorld, fake_claude: FakeClaudeServer
) -> None:
    # Given one item, and the same body sent again as a new message (a sender's retry), keys reordered
    item = work_item("again", job_id="job-same", metadata={"b": 2, "a": 1})
    reordered = {key: item[key] for key in reversed(list(item))}
    world.send("default", [json.dumps(item)])
    world.consume(world.receive_event("default"))
    world.send("default", [json.dumps(reordered)])

    # When it arrives
    response = world.consume(world.receive_event("default"))

    # Then it is dropped as a redelivery: no rejection, one call
    assert response == {"batchItemFailures": []}
    assert world.object_keys("rejections/") == []
    assert clients.get_job_store().item_counts("job-same") == {"PENDING": 1}


def test_a_malformed_job_items_attribute_is_a_recorded_rejection_not_a_poison_message(
    world: BatchWorld, fake_claude: FakeClaudeServer
) -> None:
    # Given valid items whose `job_items` attribute is not a count (a raw sender's mistake)
    url = world.queues["default"].url
    sent = {
        value: world.sqs().send_message(
            QueueUrl=url,
            MessageBody=json.dumps(work_item(f"attr-{n}", job_id="job-attr")),
            MessageAttributes={"job_items": {"DataType": data_type, "StringValue": value}},
        )["MessageId"]
        for n, (data_type, value) in enumerate([("String", "lots"), ("Number", "2.5"), ("Number", "0")])
    }

    # When the consumer gets them
    response = world.consume(world.receive_event("default"))

    # Then none is handed back to SQS (no delivery could ever fix them): each is rejected with the reason
    assert response == {"batchItemFailures": []}
    refused = rejections(world)
    assert set(refused) == set(sent.values())
    assert {record["reason"] for record in refused.values()} == {"invalid message attribute"}
    assert "whole number" in refused[sent["lots"]]["errors"][0]
    assert "at least 1" in refused[sent["0"]]["errors"][0]
    assert clients.get_job_store().item_counts("job-attr") == {"REJECTED": 3}
    assert fake_claude.batch_custom_ids() == []


def test_the_same_scheduled_event_delivered_twice_collects_nothing_twice(
    world: BatchWorld, fake_claude: FakeClaudeServer
) -> None:
    from batch_jobs import poller

    # Given a submitted batch of three items
    world.send("default", [json.dumps(work_item(f"p-{n}", job_id="job-poll")) for n in range(3)])
    world.consume(world.receive_event("default"))

    # When Lambda delivers the scheduler's event twice (an async retry), and a third time while another
    # poller holds the batch's collection lease
    first = poller.handler(SCHEDULED_EVENT, LocalLambdaContext.new("poller"))
    second = poller.handler(SCHEDULED_EVENT, LocalLambdaContext.new("poller"))

    # Then the first collected everything and the second found nothing left to do
    assert (first["batches_collected"], first["items_finished"], first["jobs_completed"]) == (1, 3, 1)
    assert (second["batches_collected"], second["items_finished"], second["jobs_completed"]) == (0, 0, 0)
    # and there is one results file, one line per item, and one completion event
    (results_key,) = [key for key in world.object_keys("results/job-poll/") if key.endswith(".jsonl")]
    lines = world.read_object(results_key).decode().splitlines()
    assert sorted(json.loads(line)["custom_id"] for line in lines) == ["p-0", "p-1", "p-2"]
    assert len(world.completion_events()) == 1
    assert clients.get_job_store().item_counts("job-poll") == {"SUCCEEDED": 3}


def test_a_poller_finding_the_batch_leased_by_another_leaves_it_alone(
    world: BatchWorld, fake_claude: FakeClaudeServer
) -> None:
    from batch_jobs import poller

    # Given a submitted batch that another poller (a concurrent async retry) is collecting
    world.send("default", [json.dumps(work_item("leased", job_id="job-lease"))])
    world.consume(world.receive_event("default"))
    store = clients.get_job_store()
    (batch,) = store.open_batches()
    assert store.claim_batch(batch.batch_id, lease_seconds=300)

    # When this delivery of the event runs
    report = poller.handler(SCHEDULED_EVENT, LocalLambdaContext.new("poller"))

    # Then it collects nothing: the item stays with the poller holding the lease
    assert report["batches_collected"] == report["items_finished"] == 0
    assert store.item_counts("job-lease") == {"PENDING": 1}
