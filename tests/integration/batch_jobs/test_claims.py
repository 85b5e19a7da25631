"""Claiming an invocation's items together: the same outcomes as one claim at a time, in fewer AWS calls."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client

from batch_jobs import clients
from batch_jobs.store import ClaimOutcome, ItemOutcome, ItemState, JobStore, QueuedItem
from claude_kit.errors import SpendGuardClosedError
from claude_kit.reservation import SpendGate
from claude_kit.spend_switch import SwitchState
from tests.integration.batch_jobs.support import BatchWorld, work_item

NOW = 1_700_000_000.0


def _item(custom_id: str, job_id: str = "job-1") -> QueuedItem:
    return QueuedItem(
        job_id=job_id,
        custom_id=custom_id,
        queue="default",
        mode="batch",
        request="{}",
        model="claude-sonnet-5-5",
        user_id=None,
        message_id=f"m-{custom_id}",
        receive_count=1,
    )


def _prepared_store(world: BatchWorld, job_id: str) -> JobStore:
    """A job whose items are in every state a claim can meet."""
    store = clients.get_job_store()
    clock = iter([NOW - 1000.0, NOW - 1000.0, NOW, NOW, NOW, NOW])
    early = JobStore(store._table, ttl_days=1, clock=lambda: next(clock))
    assert early.claim(_item("lapsed", job_id), lease_seconds=10) is ClaimOutcome.CLAIMED  # lease over
    assert early.claim(_item("done", job_id), lease_seconds=10) is ClaimOutcome.CLAIMED
    early.finish(job_id, "done", ItemOutcome(ItemState.SUCCEEDED))
    assert early.claim(_item("held", job_id), lease_seconds=10_000) is ClaimOutcome.CLAIMED  # live lease
    assert early.claim(_item("given-back", job_id), lease_seconds=10) is ClaimOutcome.CLAIMED
    early.release(_item("given-back", job_id), error_type="overloaded_error", error_message="try later")
    return JobStore(store._table, ttl_days=1, clock=lambda: NOW)


NAMES = ["new-1", "lapsed", "done", "held", "given-back", "new-2", "new-1"]  # new-1 twice: a duplicate


def test_claim_many_decides_each_item_as_claiming_it_alone_would(world):
    # Given two jobs whose items are in the same mix of states (new, lapsed, finished, held, given back)
    together, alone = _prepared_store(world, "job-a"), _prepared_store(world, "job-b")

    # When one job's items are claimed together and the other's one at a time, in the same order
    outcomes = together.claim_many([_item(name, "job-a") for name in NAMES], lease_seconds=60)
    expected = [alone.claim(_item(name, "job-b"), lease_seconds=60) for name in NAMES]

    # Then every outcome matches, the duplicate included (the first delivery holds it: BUSY)
    assert outcomes == expected
    assert outcomes == [
        ClaimOutcome.CLAIMED,
        ClaimOutcome.CLAIMED,
        ClaimOutcome.DONE,
        ClaimOutcome.BUSY,
        ClaimOutcome.CLAIMED,
        ClaimOutcome.CLAIMED,
        ClaimOutcome.BUSY,
    ]
    # And the table holds the same states for both jobs
    assert together.item_counts("job-a") == alone.item_counts("job-b") == {"IN_PROGRESS": 5, "SUCCEEDED": 1}


def test_claim_many_splits_at_the_transaction_limit(world):
    # Given 130 new items (a transaction takes 100)
    store = clients.get_job_store()
    items = [_item(f"i-{n}") for n in range(130)]

    # When they are claimed together
    with _counting_calls() as calls:
        outcomes = store.claim_many(items, lease_seconds=60)

    # Then all are claimed, in two transactions and no single puts
    assert outcomes == [ClaimOutcome.CLAIMED] * 130
    assert calls == Counter({"TransactWriteItems": 2})
    assert store.item_counts("job-1") == {"IN_PROGRESS": 130}


def test_batch_consumer_makes_a_few_aws_calls_per_invocation_not_per_item(world, fake_claude):
    # Given ten valid work items in one SQS batch
    world.send("default", [json.dumps(work_item(f"c-{n}", job_id="job-1")) for n in range(10)])
    event = world.receive_event("default")

    # When the consumer submits them
    with _counting_calls() as calls:
        assert world.consume(event) == {"batchItemFailures": []}

    # Then: one transaction claims them, one update opens the job, one batched write records the batch
    # and its PENDING items (the Anthropic key read is the container's first call, not the item's)
    calls.pop("GetSecretValue", None)
    assert calls == Counter({"TransactWriteItems": 1, "UpdateItem": 1, "BatchWriteItem": 1})
    assert clients.get_job_store().item_counts("job-1") == {"PENDING": 10}
    assert sorted(fake_claude.batch_custom_ids()) == sorted(f"c-{n}" for n in range(10))


class _ClosedSwitch:
    """A spend switch that is closed, and counts how often it is read."""

    def __init__(self) -> None:
        self.reads = 0

    def state(self) -> SwitchState:
        self.reads += 1
        return SwitchState(state="closed", reason="claude_daily_budget")

    def refuse_if_closed(self) -> None:
        self.state()
        raise SpendGuardClosedError("closed by the daily cost alarm")


def test_the_spend_switch_is_read_once_per_invocation_and_its_verdict_holds_for_every_item(
    world, fake_claude, monkeypatch
):
    # Given a closed spend switch and ten items in one SQS batch
    switch = _ClosedSwitch()
    monkeypatch.setattr(clients, "get_gate", lambda: SpendGate(switch=switch))  # type: ignore[arg-type]
    world.send("default", [json.dumps(work_item(f"s-{n}", job_id="job-1")) for n in range(10)])
    event = world.receive_event("default")

    # When the consumer runs
    response = world.consume(event)

    # Then the switch was read once, every record was parked back in the queue (none failed, none claimed),
    # and nothing reached Claude
    assert switch.reads == 1
    assert response == {"batchItemFailures": []}
    assert clients.get_job_store().item_counts("job-1") == {}
    assert fake_claude.batch_custom_ids() == []


def test_a_failed_batched_claim_falls_back_to_claiming_items_one_by_one(world, fake_claude, monkeypatch):
    # Given a jobs table whose transactions fail (throttled, say)
    store = clients.get_job_store()

    def throttled(*args, **kwargs):
        raise RuntimeError("TransactWriteItems throttled")

    monkeypatch.setattr(store, "claim_many", throttled)
    world.send("default", [json.dumps(work_item(f"f-{n}", job_id="job-1")) for n in range(3)])

    # When the consumer runs
    response = world.consume(world.receive_event("default"))

    # Then each item was claimed alone and submitted all the same
    assert response == {"batchItemFailures": []}
    assert sorted(fake_claude.batch_custom_ids()) == ["f-0", "f-1", "f-2"]


@contextmanager
def _counting_calls() -> Iterator[Counter[str]]:
    """Every AWS API call any boto3 client makes, by operation name."""
    calls: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        calls[operation] += 1
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = counting
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original
