"""The consumer on real-shaped SQS events: redelivery, rejections, realtime failures and the DLQ."""

from __future__ import annotations

import json

import anthropic
import pytest

from batch_jobs import clients
from local.fake_claude import PLACEHOLDER_API_KEY, Fault
from tests.integration.batch_jobs.support import BatchWorld, work_item


def _send_items(world: BatchWorld, queue: str, custom_ids: list[str], job_id: str = "job-1") -> None:
    world.send(
        queue, [json.dumps(work_item(custom_id, job_id=job_id, user_id="user-1")) for custom_id in custom_ids]
    )


def test_redelivered_records_are_never_submitted_twice(world, fake_claude):
    # Given three records the consumer has already submitted in a Message Batch
    _send_items(world, "default", ["a", "b", "c"])
    event = world.receive_event("default")
    assert world.consume(event) == {"batchItemFailures": []}

    # When SQS delivers the very same records again (a lost delete, a visibility timeout), before and after
    # the poller collected the batch
    again = world.consume(event)
    world.poll()
    once_more = world.consume(event)

    # Then each custom_id reached the Batches API once, and the redeliveries are acknowledged without work
    assert sorted(fake_claude.batch_custom_ids()) == ["a", "b", "c"]
    assert again == once_more == {"batchItemFailures": []}
    assert clients.get_job_store().item_counts("job-1") == {"SUCCEEDED": 3}


def test_invalid_messages_are_rejected_with_reasons_and_valid_neighbours_still_succeed(
    world, fake_claude, monkeypatch
):
    # Given a queue whose items may be 4 KiB at most, and one SQS batch mixing good and bad messages
    monkeypatch.setenv("KIT_MAX_MESSAGE_BYTES", "5120")
    clients.reset()
    oversized = work_item("big", text="x" * 5000, job_id="job-1")
    params = work_item("model")["params"]
    bodies = {
        "not-json": "{this is not json",
        "bad-schema": json.dumps({"custom_id": "no spaces allowed", "params": {"max_tokens": 10}}),
        "model": json.dumps(
            work_item("model", job_id="job-1") | {"params": {**params, "model": "claude-unknown"}}
        ),
        "oversized": json.dumps(oversized),
        "good-1": json.dumps(work_item("good-1", job_id="job-1")),
        "good-2": json.dumps(work_item("good-2", job_id="job-1")),
    }
    ids = dict(zip(bodies, world.send("default", list(bodies.values())), strict=True))

    # When the consumer gets them in one invocation
    response = world.consume(world.receive_event("default"))

    # Then nothing is handed back to SQS: bad messages can never succeed, good ones were submitted
    assert response == {"batchItemFailures": []}
    assert sorted(fake_claude.batch_custom_ids()) == ["good-1", "good-2"]
    # And each bad message left a rejection record with its reason and original body
    rejections = {
        record["message_id"]: record
        for record in (json.loads(world.read_object(key)) for key in world.object_keys("rejections/"))
    }
    assert set(rejections) == {ids[name] for name in ("not-json", "bad-schema", "model", "oversized")}
    assert rejections[ids["not-json"]]["reason"] == "body is not valid JSON"
    assert rejections[ids["not-json"]]["body"] == bodies["not-json"]
    assert any("custom_id" in error for error in rejections[ids["bad-schema"]]["errors"])
    assert any("claude-unknown" in error for error in rejections[ids["model"]]["errors"])
    assert rejections[ids["oversized"]]["reason"].endswith("the limit is 4096 bytes")
    # And the job counts the rejected items it can attribute, beside the submitted ones
    assert clients.get_job_store().item_counts("job-1") == {"PENDING": 2, "REJECTED": 2}


def test_realtime_queue_hands_back_items_a_429_storm_stopped_and_they_succeed_on_redelivery(
    world, fake_claude
):
    # Given five realtime items and an API that answers the first two attempts with 429
    # (the retry policy allows two attempts per call: KIT_RATE_LIMIT_MAX_ATTEMPTS)
    _send_items(world, "fast", [f"rt-{n}" for n in range(5)])
    fake_claude.inject(Fault.rate_limited(retry_after=0), Fault.rate_limited(retry_after=0))
    source = world.source("fast")

    # When the event source delivers them
    first = source.deliver()

    # Then the invocation reports every item as a failure (the first was throttled, the rest were not tried)
    assert (first.received, first.failed) == (5, 5)
    assert len(fake_claude.message_calls()) == 2

    # When SQS redelivers them after the storm
    second = source.drain()

    # Then all five succeed with one call each, and their results are in S3
    assert (second.received, second.failed) == (5, 0)
    assert len(fake_claude.message_calls()) == 2 + 5
    assert clients.get_job_store().item_counts("job-1") == {"SUCCEEDED": 5}
    (key,) = [key for key in world.object_keys("results/job-1/items/") if key.endswith("rt-3.json")]
    line = json.loads(world.read_object(key))
    assert line["custom_id"] == "rt-3"
    assert line["result"]["type"] == "succeeded"
    assert line["result"]["message"]["content"][0]["type"] == "text"


def test_realtime_item_that_keeps_failing_lands_in_the_dead_letter_queue(world, fake_claude):
    # Given one realtime item and an API that stays overloaded (the queue allows 2 receives)
    _send_items(world, "fast", ["doomed"])
    fake_claude.inject(*[Fault.overloaded() for _ in range(20)])

    # When the event source keeps delivering it
    delivery = world.source("fast").drain()

    # Then it failed on both receives and SQS moved it to the DLQ, where it waits for a redrive
    assert (delivery.received, delivery.failed) == (2, 2)
    dlq_url = world.queues["fast"].url + "-dlq"
    (dead,) = world.sqs().receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(dead["Body"])["custom_id"] == "doomed"
    # And the job still counts it as open (RETRYING), so the job does not complete without it
    assert clients.get_job_store().item_counts("job-1") == {"RETRYING": 1}


def test_realtime_item_that_may_have_been_billed_is_redelivered_once_then_errored(
    world, fake_claude, monkeypatch
):
    # Given a realtime item whose whole-message call outlasts the read timeout on every delivery
    monkeypatch.setenv("KIT_READ_TIMEOUT_SECONDS", "0.3")
    clients.reset()
    body = work_item("slow", job_id="job-1", user_id="user-1")
    body["params"]["max_tokens"] = 8  # the whole-message timeout grows with max_tokens
    world.send("fast", [json.dumps(body)])
    fake_claude.inject(*[Fault.stall(seconds=3) for _ in range(5)])

    # When the event source delivers it
    delivery = world.source("fast").drain()

    # Then the first delivery hands it back, the second one ends it (each may have been billed): ERRORED,
    # not left to burn every receive into the DLQ, and Claude generated it exactly twice
    assert (delivery.received, delivery.failed) == (2, 1)
    assert clients.get_job_store().item_counts("job-1") == {"ERRORED": 1}
    assert fake_claude.wait_for_disconnects(2)
    assert [entry.outcome for entry in fake_claude.ledger()] == ["abandoned", "abandoned"]


def test_realtime_item_claude_refuses_for_good_is_errored_not_retried(world, fake_claude):
    # Given a realtime item whose request the API rejects with 400 (first message must be from the user)
    body = work_item("assistant-first", job_id="job-1")
    body["params"]["messages"] = [{"role": "assistant", "content": "I speak first"}]
    world.send("fast", [json.dumps(body)])

    # When it is delivered
    delivery = world.source("fast").drain()

    # Then it is acknowledged and ERRORED with the API's reason, in the results like any answer
    assert (delivery.received, delivery.failed) == (1, 0)
    assert clients.get_job_store().item_counts("job-1") == {"ERRORED": 1}
    (key,) = world.object_keys("results/job-1/items/")
    error = json.loads(world.read_object(key))["result"]
    assert error["type"] == "errored"
    assert error["error"]["error"]["type"] == "invalid_request_error"


def test_a_batch_submitted_but_not_recorded_is_logged_with_its_id_for_recovery(
    world, fake_claude, monkeypatch, caplog
):
    # Given a jobs table that fails right after Anthropic accepted the batch
    _send_items(world, "default", ["x", "y"], job_id="job-unrecorded")
    event = world.receive_event("default")
    store = clients.get_job_store()

    def unavailable(*args, **kwargs):
        raise RuntimeError("DynamoDB unavailable")

    monkeypatch.setattr(store, "record_batch", unavailable)

    # When the consumer runs
    with pytest.raises(RuntimeError):
        world.consume(event)

    # Then the batch Anthropic holds is named in an error log line, with its items, so it can be cancelled
    with anthropic.Anthropic(
        api_key=PLACEHOLDER_API_KEY, base_url=fake_claude.base_url, max_retries=0
    ) as api:
        (batch,) = api.messages.batches.list().data
    (line,) = [
        record for record in caplog.records if record.getMessage().startswith("Message Batch submitted but")
    ]
    assert line.levelname == "ERROR"
    assert line.batch_id == batch.id
    assert sorted(line.custom_ids) == ["x", "y"]
