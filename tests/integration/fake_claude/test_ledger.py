"""The fake's ledger bills what the real API would: the ground truth every money test compares against."""

from __future__ import annotations

import time

import anthropic
import httpx2
import pytest

from local.fake_claude import FakeClaudeServer, Fault
from tests.integration.fake_claude.conftest import MODEL, ask


def test_a_whole_message_is_billed_exactly_what_its_usage_says(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    message = client.messages.create(model=MODEL, max_tokens=200, messages=ask())
    [billed] = fake_claude.ledger()
    assert (billed.input_tokens, billed.output_tokens) == (
        message.usage.input_tokens,
        message.usage.output_tokens,
    )
    assert (billed.message_id, billed.outcome, billed.stream) == (message.id, "complete", False)


def test_a_complete_stream_is_billed_its_final_usage(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    with client.messages.create(model=MODEL, max_tokens=200, messages=ask(), stream=True) as stream:
        events = list(stream)
    final = next(event for event in events if event.type == "message_delta")
    [billed] = fake_claude.ledger()
    assert billed.output_tokens == final.usage.output_tokens
    assert billed.outcome == "complete"


def test_a_cut_stream_is_billed_its_input_and_the_tokens_it_generated(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    # Given a stream cut after message_start, content_block_start, ping and three deltas
    fake_claude.inject(Fault.cut_stream(after_events=6))
    received: list[object] = []

    def read() -> None:
        with client.messages.create(model=MODEL, max_tokens=200, messages=ask(), stream=True) as stream:
            received.extend(event for event in stream if event.type == "content_block_delta")

    with pytest.raises(httpx2.TransportError):
        read()
    # Then the ledger bills the whole input and exactly the three tokens generated
    [billed] = fake_claude.ledger()
    assert billed.outcome == "cut"
    assert billed.output_tokens == len(received) == 3
    assert billed.input_tokens > 0


def test_refusals_and_a_stall_before_the_response_are_not_billed(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    fake_claude.inject(Fault.rate_limited(), Fault.overloaded(), Fault.api_error())
    for _ in range(3):
        with pytest.raises(anthropic.APIStatusError):
            client.messages.create(model=MODEL, max_tokens=200, messages=ask())
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="claude-none", max_tokens=200, messages=ask())
    assert fake_claude.ledger() == []


def test_a_whole_message_whose_client_timed_out_is_still_billed(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    # Given a whole message that takes longer than the client waits
    fake_claude.inject(Fault.stall(seconds=5))
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model=MODEL, max_tokens=200, messages=ask(), timeout=0.5)
    # Then it was generated and billed all the same: the client cannot know what it cost
    assert fake_claude.wait_for_disconnects(1)
    deadline = time.monotonic() + 5
    while not fake_claude.ledger() and time.monotonic() < deadline:
        time.sleep(0.02)
    [billed] = fake_claude.ledger()
    assert billed.outcome == "abandoned"
    assert billed.output_tokens > 1


def test_thinking_is_streamed_before_the_text_and_billed_as_output(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    fake_claude.configure(thinking_tokens=30)
    thinking = {"type": "enabled", "budget_tokens": 1024}
    with client.messages.stream(
        model=MODEL, max_tokens=2000, messages=ask(), extra_body={"thinking": thinking}
    ) as stream:
        message = stream.get_final_message()
    kinds = [block.type for block in message.content]
    assert kinds == ["thinking", "text"]
    [billed] = fake_claude.ledger()
    assert billed.thinking_tokens == 30
    assert billed.output_tokens == message.usage.output_tokens > 30


def test_thinking_cut_mid_way_bills_the_thinking_generated(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    fake_claude.configure(thinking_tokens=500)
    fake_claude.inject(Fault.cut_stream(after_events=203))
    thinking = {"type": "enabled", "budget_tokens": 1024}

    def read() -> None:
        with client.messages.create(
            model=MODEL, max_tokens=2000, messages=ask(), extra_body={"thinking": thinking}, stream=True
        ) as stream:
            list(stream)

    with pytest.raises(httpx2.TransportError):
        read()
    [billed] = fake_claude.ledger()
    # message_start, content_block_start, ping, then 200 thinking deltas before the cut
    assert (billed.thinking_tokens, billed.output_tokens, billed.outcome) == (200, 200, "cut")


def test_batch_items_are_billed_at_the_batch_tier_when_the_batch_ends(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": f"item-{n}", "params": {"model": MODEL, "max_tokens": 100, "messages": ask(str(n))}}
            for n in range(3)
        ]
    )
    results = list(client.messages.batches.results(batch.id))
    billed = fake_claude.ledger()
    assert sorted(entry.request_id for entry in billed) == ["item-0", "item-1", "item-2"]
    assert {entry.service_tier for entry in billed} == {"batch"}
    by_id = {
        r.custom_id: r.result.message.usage.output_tokens for r in results if r.result.type == "succeeded"
    }
    assert {entry.request_id: entry.output_tokens for entry in billed} == by_id


def test_the_ledger_is_served_over_http(fake_claude: FakeClaudeServer, client: anthropic.Anthropic) -> None:
    client.messages.create(model=MODEL, max_tokens=200, messages=ask())
    body = httpx2.get(f"{fake_claude.base_url}/_fake/ledger").json()
    assert body["totals"]["calls"] == 1
    assert body["data"][0]["output_tokens"] == body["totals"]["output_tokens"]
