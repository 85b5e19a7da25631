"""The real SDK reads the fake's Messages and count_tokens answers, streamed or whole, with real usage."""

from __future__ import annotations

import asyncio

import anthropic
from anthropic.types import TextBlock

from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer
from tests.integration.fake_claude.conftest import MODEL, ask

LONG_SYSTEM = "You answer questions about serverless systems, briefly and precisely. " * 80


def test_a_whole_message_has_text_usage_and_the_api_headers(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    # When a message is created without streaming
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=200, messages=ask())
    message = raw.parse()
    # Then it is a complete Message with usage
    assert isinstance(message.content[0], TextBlock)
    assert message.content[0].text.startswith("This is the fake")
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 1
    assert message.usage.cache_creation is not None
    assert message.usage.service_tier == "standard"
    # And the response carries a request id and rate-limit headers
    assert raw.headers["request-id"].startswith("req_")
    assert int(raw.headers["anthropic-ratelimit-requests-remaining"]) < int(
        raw.headers["anthropic-ratelimit-requests-limit"]
    )
    # And the fake recorded the call with the credentials redacted
    [call] = fake_claude.message_calls()
    assert call.body["messages"] == ask()
    assert call.headers["authorization"] == "<redacted>"
    assert PLACEHOLDER_API_KEY not in str(call.headers)


def test_a_raw_stream_sends_the_events_in_order_and_the_same_text(client: anthropic.Anthropic) -> None:
    # Given the text of a whole answer
    whole = client.messages.create(model=MODEL, max_tokens=200, messages=ask())
    # When the same request is streamed with create(stream=True)
    with client.messages.create(model=MODEL, max_tokens=200, messages=ask(), stream=True) as stream:
        events = list(stream)
        headers = stream.response.headers
    # Then the events come in the API's order (the SDK drops pings) and spell the same text
    kinds = [event.type for event in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    deltas = [
        e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta"
    ]
    assert "".join(deltas) == "".join(b.text for b in whole.content if b.type == "text")
    # And the stream's response carries the same headers as a whole answer
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["request-id"].startswith("req_")
    assert "anthropic-ratelimit-tokens-remaining" in headers


def test_the_stream_helper_accumulates_the_final_message_and_usage(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=200, messages=ask()) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert final.usage.output_tokens == len(pieces)
    assert final.usage.input_tokens > 0
    assert final.stop_reason == "end_turn"


def test_max_tokens_cuts_the_answer(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=3, messages=ask()) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 3


def test_a_repeated_prefix_is_written_to_the_cache_then_read(client: anthropic.Anthropic) -> None:
    # Given a long system prompt marked for caching
    system: list[anthropic.types.TextBlockParam] = [
        {"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]
    # When two questions share it
    first = client.messages.create(model=MODEL, max_tokens=50, system=system, messages=ask("First?"))
    second = client.messages.create(model=MODEL, max_tokens=50, system=system, messages=ask("Second?"))
    # Then the first writes the prefix (5-minute TTL) and the second reads the same number of tokens
    assert first.usage.cache_creation_input_tokens
    assert first.usage.cache_creation_input_tokens >= 1024
    assert first.usage.cache_creation is not None
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0


def test_the_cache_expires_on_the_fakes_clock(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    system: list[anthropic.types.TextBlockParam] = [
        {"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]
    client.messages.create(model=MODEL, max_tokens=50, system=system, messages=ask())
    fake_claude.advance_clock(301)
    later = client.messages.create(model=MODEL, max_tokens=50, system=system, messages=ask())
    assert later.usage.cache_read_input_tokens == 0
    assert later.usage.cache_creation_input_tokens


def test_count_tokens_matches_the_input_billed(client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(model=MODEL, system="Be brief.", messages=ask())
    billed = client.messages.create(model=MODEL, max_tokens=10, system="Be brief.", messages=ask())
    assert counted.input_tokens == billed.usage.input_tokens > 0


def test_a_configured_text_is_what_every_request_gets(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    fake_claude.configure(text="Exactly this.")
    message = client.messages.create(model=MODEL, max_tokens=10, messages=ask())
    assert message.content == [TextBlock(type="text", text="Exactly this.", citations=None)]


def test_the_async_client_streams_too(fake_claude: FakeClaudeServer) -> None:
    async def stream_text() -> str:
        async with (
            anthropic.AsyncAnthropic(
                base_url=fake_claude.base_url, api_key=PLACEHOLDER_API_KEY, max_retries=0
            ) as sdk,
            sdk.messages.stream(model=MODEL, max_tokens=200, messages=ask()) as stream,
        ):
            return "".join([piece async for piece in stream.text_stream])

    text = asyncio.run(stream_text())

    assert text.startswith("This is the fake Claude answering")
