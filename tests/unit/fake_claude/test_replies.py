"""Replies are deterministic, honour stop sequences and max_tokens, and stream in the real API's order."""

from __future__ import annotations

from typing import Any

from local.fake_claude.prompt_cache import CacheUse
from local.fake_claude.protocol import MessagesRequest
from local.fake_claude.replies import compose_reply, deterministic_text, split_tokens

CACHE = CacheUse(input_tokens=10, cache_read_input_tokens=20, ephemeral_5m_input_tokens=30)


def _request(content: str = "Tell me about queues", **changes: Any) -> MessagesRequest:
    body = {
        "model": "claude-sonnet-5-5",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": content}],
    }
    return MessagesRequest.model_validate({**body, **changes})


def test_the_same_request_gets_the_same_text_and_another_request_another() -> None:
    assert deterministic_text(_request()) == deterministic_text(_request())
    assert deterministic_text(_request()) != deterministic_text(_request("Tell me about caches"))


def test_word_tokens_join_back_into_the_text() -> None:
    text = deterministic_text(_request())
    pieces = split_tokens(text)
    assert "".join(pieces) == text
    assert len(pieces) > 20


def test_a_reply_longer_than_max_tokens_stops_at_max_tokens() -> None:
    # Given a 10-word text and max_tokens 4
    reply = compose_reply(
        _request(max_tokens=4),
        text="one two three four five six seven eight nine ten",
        cache=CACHE,
        service_tier="standard",
    )
    # Then the reply has 4 tokens and says why it stopped
    assert reply.text == "one two three four"
    assert (reply.stop_reason, reply.output_tokens) == ("max_tokens", 4)


def test_a_stop_sequence_cuts_the_reply_and_is_reported() -> None:
    reply = compose_reply(
        _request(stop_sequences=["END", "four"]),
        text="one two three four five",
        cache=CACHE,
        service_tier="standard",
    )
    assert reply.text == "one two three"
    assert (reply.stop_reason, reply.stop_sequence) == ("stop_sequence", "four")


def test_an_empty_reply_still_bills_one_output_token() -> None:
    reply = compose_reply(
        _request(stop_sequences=["one"]), text="one two", cache=CACHE, service_tier="standard"
    )
    assert reply.text == ""
    assert reply.output_tokens == 1


def test_the_message_body_carries_text_usage_and_stop_reason() -> None:
    reply = compose_reply(_request(), text="Hello there", cache=CACHE, service_tier="batch")
    message = reply.message()
    assert message["content"] == [{"type": "text", "text": "Hello there"}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"] == {
        "input_tokens": 10,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 20,
        "cache_creation": {"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 2,
        "service_tier": "batch",
    }


def test_stream_events_come_in_the_api_order_with_usage_where_the_api_puts_it() -> None:
    # Given a two-token reply
    reply = compose_reply(_request(), text="Hello there", cache=CACHE, service_tier="standard")
    # When it is rendered as a stream
    events = list(reply.events())
    # Then the events are in the real order
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    # And message_start reports input usage with one output token, message_delta the cumulative totals
    start, delta = events[0][1], events[6][1]
    assert start["message"]["usage"]["output_tokens"] == 1
    assert start["message"]["usage"]["cache_read_input_tokens"] == 20
    assert start["message"]["stop_reason"] is None
    assert delta["usage"] == {
        "input_tokens": 10,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 20,
        "output_tokens": 2,
    }
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert (
        "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
        == "Hello there"
    )
