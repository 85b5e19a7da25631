"""A closed spend switch never loses queued work: 20 items wait while it is closed (the event source paused,
as a disabled mapping, or still receiving and the consumer parking what it gets), none reaches the DLQ, no
receive is spent on them, and all 20 succeed once it reopens."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch_jobs import cli, clients
from batch_jobs.jobs import job_summary
from claude_kit.aws import aws_client
from claude_kit.reservation import get_spend_gate
from local.batch_queues import BatchQueueServices
from local.stack import LocalStack
from tests.integration.batch_jobs.support import close_claude_client

pytestmark = pytest.mark.slow

ITEMS = 20


@pytest.fixture
def batch_stack(local_stack_env: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("KIT_PAUSED_REDELIVERY_DELAY_SECONDS", "1")
    clients.reset()
    yield local_stack_env
    _set_switch(local_stack_env, "open")
    _event_sources(local_stack_env).pause_with_switch = True
    close_claude_client()
    clients.reset()


def _event_sources(stack: LocalStack) -> BatchQueueServices:
    return next(s for s in stack.services if isinstance(s, BatchQueueServices))


def _set_switch(stack: LocalStack, state: str) -> None:
    value = {"state": state, "reason": "operator", "detail": "spend pause test"}
    aws_client("ssm").put_parameter(
        Name=stack.env["KIT_SPEND_SWITCH_PARAMETER"], Value=json.dumps(value), Type="String", Overwrite=True
    )
    get_spend_gate.cache_clear()


def _queue_counts(stack: LocalStack, suffix: str = "") -> tuple[int, int]:
    """(waiting: visible or delayed, in flight: received and not yet deleted)."""
    sqs = aws_client("sqs")
    url = sqs.get_queue_url(QueueName=f"claude-kit-{stack.env_name}-default{suffix}")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    waiting = int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesDelayed"]
    )
    return waiting, int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _work_file(tmp_path: Path) -> Path:
    items = tmp_path / "work.jsonl"
    params = {"max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}
    items.write_text(
        "".join(json.dumps({"custom_id": f"w-{n}", "params": params}) + "\n" for n in range(ITEMS))
    )
    return items


def _wait_for(job_id: str, timeout_seconds: float = 90) -> dict[str, int]:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        summary = job_summary(clients.get_job_store(), job_id)
        if summary is not None and summary.status == "COMPLETED":
            return summary.counts
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not complete within {timeout_seconds} s")


@pytest.mark.parametrize("mapping", ["disabled", "left on"])
def test_queued_items_wait_for_a_closed_switch_and_all_succeed_after_reopening(
    batch_stack: LocalStack, tmp_path: Path, mapping: str
) -> None:
    job_id = f"paused-{mapping.replace(' ', '-')}"
    # Given a closed spend switch, the event source paused with it or still receiving
    _event_sources(batch_stack).pause_with_switch = mapping == "disabled"
    _set_switch(batch_stack, "closed")
    assert batch_stack.fake is not None
    # When 20 items are enqueued and the switch stays closed for a while (several receive rounds)
    assert cli.main(["enqueue", str(_work_file(tmp_path)), "--env", "local", "--job-id", job_id]) == 0
    time.sleep(4)
    # Then nothing reached Claude or the DLQ, and all 20 are still queued
    assert batch_stack.fake.batch_custom_ids() == []
    assert _queue_counts(batch_stack, "-dlq") == (0, 0)
    waiting, in_flight = _queue_counts(batch_stack)
    assert waiting + in_flight == ITEMS
    if mapping == "disabled":
        assert in_flight == 0  # never received: every receive count is still 0
    # When the switch reopens
    _set_switch(batch_stack, "open")
    # Then every item succeeds, each on its first counted receive, and the DLQ stays empty
    assert _wait_for(job_id) == {"SUCCEEDED": ITEMS}
    items = list(clients.get_job_store().items(job_id))
    assert sorted(int(item["receive_count"]) for item in items) == [1] * ITEMS
    assert _queue_counts(batch_stack, "-dlq") == (0, 0)
