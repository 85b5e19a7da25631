"""Every fault the fake Claude can produce, against queued work: each item ends in a final state with one
result, or waits in the DLQ still counted; none is lost, none that is invalid reaches Claude.

Realtime queues call `messages.create` per item, so the call faults apply (stream-only faults never reach
a non-streaming call); batch-mode queues go through Message Batches, whose items fail by batch item faults.
"""

from __future__ import annotations

import json

import pytest

from batch_jobs import clients
from batch_jobs.store import FINAL_STATES
from local.fake_claude import FakeClaudeServer, Fault
from local.fake_claude.faults import CallFault
from tests.integration.batch_jobs.support import BatchWorld, work_item

ITEMS = 3
ITEM_IDS = [f"item-{n}" for n in range(ITEMS)]
CALL_FAULTS: dict[str, CallFault] = {
    "rate_limited": Fault.rate_limited(retry_after=0),
    "overloaded": Fault.overloaded(),
    "api_error": Fault.api_error(),
    "stall": Fault.stall(seconds=0.2),
}


def send(world: BatchWorld, queue: str, job_id: str) -> None:
    bodies = [json.dumps(work_item(f"item-{n}", job_id=job_id)) for n in range(ITEMS)]
    world.send(queue, [*bodies, json.dumps({"custom_id": "bad", "job_id": job_id, "params": {}})])


@pytest.mark.parametrize("kind", list(CALL_FAULTS))
def test_each_call_fault_on_a_realtime_queue_leaves_every_item_final_or_in_the_dlq(
    world: BatchWorld, fake_claude: FakeClaudeServer, kind: str
) -> None:
    # Given three items and an invalid one on the realtime queue (2 receives), and the fault queued twice
    send(world, "fast", "job-rt")
    fake_claude.inject(*[CALL_FAULTS[kind]] * 2)

    # When the event source delivers until the queue is empty (SQS redelivers what was handed back)
    delivery = world.source("fast").drain()

    # Then every message is accounted for: its item final in the table, or the message in the DLQ
    records = {record["custom_id"]: record["state"] for record in clients.get_job_store().items("job-rt")}
    final = {custom_id for custom_id, state in records.items() if state in FINAL_STATES}
    dead = world.sqs().receive_message(QueueUrl=world.queues["fast"].url + "-dlq", MaxNumberOfMessages=10)
    dead_ids = {json.loads(message["Body"])["custom_id"] for message in dead.get("Messages", [])}
    assert final | dead_ids == {*ITEM_IDS, "bad"}, (records, dead_ids)
    assert delivery.received >= ITEMS + 1
    # with one result object per item Claude answered, and the invalid one rejected, never sent
    answered = {custom_id for custom_id in final if records[custom_id] in ("SUCCEEDED", "ERRORED")}
    assert set(world.object_keys("results/job-rt/items/")) == {
        f"results/job-rt/items/{custom_id}.json" for custom_id in answered
    }
    assert records.get("bad") in (None, "REJECTED")
    asked = [call.body["messages"][0]["content"] for call in fake_claude.message_calls()]
    assert {text.rsplit("(", 1)[1].rstrip(")") for text in asked} <= set(ITEM_IDS)
    assert len(asked) <= 3 * ITEMS


@pytest.mark.parametrize("result", ["errored", "expired"])
def test_each_batch_item_fault_ends_in_its_state_with_one_results_line(
    world: BatchWorld, fake_claude: FakeClaudeServer, result: str
) -> None:
    # Given a Message Batch whose item-1 comes back errored or expired, and an invalid message beside it
    fake_claude.inject(Fault.batch_item("item-1", result=result))  # type: ignore[arg-type]
    send(world, "default", "job-b")

    # When the consumer submits and the poller collects
    world.consume(world.receive_event("default"))
    report = world.poll()

    # Then each item has its final state: exactly the faulted one failed, the invalid one rejected
    assert clients.get_job_store().item_counts("job-b") == {
        "SUCCEEDED": ITEMS - 1,
        result.upper(): 1,
        "REJECTED": 1,
    }
    assert report.items_finished == ITEMS
    # and one results line per submitted item, none for the invalid one, which never reached Claude
    (key,) = [key for key in world.object_keys("results/job-b/") if key.endswith(".jsonl")]
    lines = [json.loads(line) for line in world.read_object(key).decode().splitlines()]
    assert sorted(line["custom_id"] for line in lines) == ITEM_IDS
    assert sorted(fake_claude.batch_custom_ids()) == ITEM_IDS
