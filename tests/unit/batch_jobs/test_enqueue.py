"""Validating a JSONL file and sending it to SQS in batches, with the retries SQS asks for."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batch_jobs.enqueue import JOB_ITEMS_ATTRIBUTE, Outgoing, QueueSender, requeue, validate_lines
from batch_jobs.schema import ItemLimits

LIMITS = ItemLimits(("claude-sonnet-5-5",), "claude-sonnet-5-5", 1024, 64 * 1024)


def line(custom_id: str, **fields: Any) -> str:
    return json.dumps(
        {
            "custom_id": custom_id,
            "params": {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        }
        | fields
    )


class RecordingSqs:
    """SendMessageBatch that fails the entries listed in `fail` (once each), as SQS reports them."""

    def __init__(self, fail: dict[str, bool] | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self._fail = dict(fail or {})

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        failed = [e for e in Entries if e["Id"] in self._fail]
        return {
            "Successful": [{"Id": e["Id"], "MessageId": f"m-{e['Id']}"} for e in Entries if e not in failed],
            "Failed": [
                {"Id": e["Id"], "Code": "InternalError", "SenderFault": self._fail.pop(e["Id"])}
                for e in failed
            ],
        }


def test_invalid_lines_are_reported_by_line_number_and_left_out():
    # Given a file with a good line, a blank line, bad JSON, a duplicate custom_id and a foreign job id
    lines = [line("a"), "", "{oops", line("a"), line("b", job_id="other"), line("c")]

    # When it is validated for job "job-1"
    valid, invalid, count = validate_lines(lines, job_id="job-1", limits=LIMITS)

    # Then the good lines carry the job id and the bad ones are named with their line numbers
    assert count == 5
    assert [(o.ref, json.loads(o.body)["job_id"]) for o in valid] == [("1", "job-1"), ("6", "job-1")]
    assert [(e.line, e.reason) for e in invalid] == [
        (3, "body is not valid JSON"),
        (4, "custom_id 'a' already used on line 1"),
        (5, "job_id 'other' differs from this run's job id 'job-1'"),
    ]


def test_messages_go_ten_per_call_with_the_job_size_attribute():
    sqs = RecordingSqs()
    messages = [Outgoing(str(n), line(f"i{n}")) for n in range(23)]

    failed = QueueSender(sqs, "url", max_message_bytes=256 * 1024).send(messages, job_items=23)

    assert failed == []
    assert [len(call) for call in sqs.calls] == [10, 10, 3]
    assert sqs.calls[0][0]["MessageAttributes"] == {
        JOB_ITEMS_ATTRIBUTE: {"DataType": "Number", "StringValue": "23"}
    }


def test_a_call_never_carries_more_bytes_than_one_message_may_have():
    # Given messages of ~2.5 KiB and a 8 KiB limit (1 KiB per message is kept for attributes)
    sqs = RecordingSqs()
    messages = [Outgoing(str(n), line(f"i{n}", metadata={"pad": "x" * 2500})) for n in range(4)]

    QueueSender(sqs, "url", max_message_bytes=8 * 1024).send(messages)

    assert [len(call) for call in sqs.calls] == [2, 2]


def test_entries_sqs_failed_on_its_side_are_sent_again_and_sender_faults_are_reported():
    # Given SQS failing entry 2 transiently and entry 3 for the sender's fault
    sqs = RecordingSqs(fail={"2": False, "3": True})
    sleeps: list[float] = []
    messages = [Outgoing(str(n), line(f"i{n}")) for n in range(1, 5)]

    # When they are sent
    failed = QueueSender(sqs, "url", max_message_bytes=256 * 1024, sleep=sleeps.append).send(messages)

    # Then only entry 2 was sent again (after a backoff) and entry 3 is reported as not sent
    assert [[e["Id"] for e in call] for call in sqs.calls] == [["1", "2", "3", "4"], ["2"]]
    assert len(sleeps) == 1
    assert [(f.ref, f.reason) for f in failed] == [("3", "InternalError: ")]


def test_requeue_refuses_states_that_cannot_be_sent_again():
    with pytest.raises(ValueError, match="REJECTED"):
        requeue(jobs=None, sender_for=print, job_id="j", states=["REJECTED"])  # type: ignore[arg-type]


def test_requeue_names_the_states_it_accepts_readably_including_retrying() -> None:
    with pytest.raises(ValueError, match="choose from") as refused:
        requeue(None, lambda _queue: None, "job-1", ["PENDING"])  # type: ignore[arg-type,return-value]
    assert str(refused.value) == (
        "cannot requeue items in PENDING; choose from CANCELED, ERRORED, EXPIRED, REQUEUED, RETRYING"
    )
