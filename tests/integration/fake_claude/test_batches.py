"""The SDK's Message Batches calls work against the fake: create, retrieve, results, cancel, list, delete."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from anthropic.types.messages import (
    MessageBatchCanceledResult,
    MessageBatchErroredResult,
    MessageBatchExpiredResult,
    MessageBatchSucceededResult,
)

from local.fake_claude import FakeClaudeServer, Fault
from tests.integration.fake_claude.conftest import ask


def _requests(*custom_ids: str) -> list[Any]:
    params = {"model": "claude-haiku-5-5", "max_tokens": 20, "messages": ask()}
    return [{"custom_id": custom_id, "params": params} for custom_id in custom_ids]


def test_a_batch_ends_after_its_delay_with_typed_results(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    # Given batches take an hour, and rules making some items error or expire
    fake_claude.configure(batch_processing_delay_s=3600)
    fake_claude.inject(Fault.batch_item("bad-*"), Fault.batch_item("late-*", result="expired"))
    # When a batch is created, looked at, and looked at again an hour later
    created = client.messages.batches.create(requests=_requests("ok-1", "ok-2", "bad-1", "late-1"))
    waiting = client.messages.batches.retrieve(created.id)
    fake_claude.advance_clock(3600)
    ended = client.messages.batches.retrieve(created.id)
    results = {item.custom_id: item.result for item in client.messages.batches.results(created.id)}
    # Then it was in progress with everything processing, and ended with the counts and results to match
    assert (created.processing_status, waiting.processing_status) == ("in_progress", "in_progress")
    assert waiting.request_counts.processing == 4
    assert waiting.results_url is None
    assert ended.processing_status == "ended"
    assert ended.ended_at is not None
    assert (ended.request_counts.succeeded, ended.request_counts.errored, ended.request_counts.expired) == (
        2,
        1,
        1,
    )
    assert isinstance(results["ok-1"], MessageBatchSucceededResult)
    assert results["ok-1"].message.usage.service_tier == "batch"
    assert results["ok-1"].message.content
    assert isinstance(results["bad-1"], MessageBatchErroredResult)
    assert results["bad-1"].error.error.type == "api_error"
    assert isinstance(results["late-1"], MessageBatchExpiredResult)


def test_a_canceled_batch_ends_with_its_requests_canceled(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    fake_claude.configure(batch_processing_delay_s=3600)
    batch = client.messages.batches.create(requests=_requests("a", "b"))
    canceling = client.messages.batches.cancel(batch.id)
    ended = client.messages.batches.retrieve(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    assert ended.processing_status == "ended"
    assert ended.request_counts.canceled == 2
    assert all(
        isinstance(i.result, MessageBatchCanceledResult) for i in client.messages.batches.results(batch.id)
    )


def test_the_list_pages_newest_first_through_every_batch(client: anthropic.Anthropic) -> None:
    # Given three batches
    ids = [client.messages.batches.create(requests=_requests("x")).id for _ in range(3)]
    # When they are listed two per page, following pages automatically
    first_page = client.messages.batches.list(limit=2)
    listed = [batch.id for batch in first_page]  # auto-pagination reads the second page
    # Then all three come back, newest first, and the first page said more followed
    assert first_page.has_more
    assert len(first_page.data) == 2
    assert listed == ids[::-1]


def test_an_ended_batch_can_be_deleted(client: anthropic.Anthropic) -> None:
    batch = client.messages.batches.create(requests=_requests("x"))
    deleted = client.messages.batches.delete(batch.id)
    assert (deleted.id, deleted.type) == (batch.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)


@pytest.mark.parametrize(
    ("limits", "requests"),
    [
        ({"batch_max_requests": 2}, _requests("a", "b", "c")),
        ({"batch_max_bytes": 200}, _requests("a", "b", "c")),
        ({}, _requests("a", "a")),
    ],
    ids=["too-many-requests", "too-many-bytes", "duplicate-custom-id"],
)
def test_a_batch_over_the_limits_is_refused(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic, limits: dict[str, int], requests: list[Any]
) -> None:
    fake_claude.configure(**limits)
    with pytest.raises(anthropic.BadRequestError):
        client.messages.batches.create(requests=requests)
    assert fake_claude.batch_custom_ids() == []


def test_every_submitted_custom_id_is_recorded(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    client.messages.batches.create(requests=_requests("a", "b"))
    client.messages.batches.create(requests=_requests("c"))
    assert fake_claude.batch_custom_ids() == ["a", "b", "c"]
