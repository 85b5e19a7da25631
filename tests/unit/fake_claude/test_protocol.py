"""The fake refuses the bodies the real API refuses, naming the field, as a 400 invalid_request_error."""

from __future__ import annotations

from typing import Any

import pytest

from local.fake_claude.protocol import (
    ApiError,
    BatchCreateRequest,
    CountTokensRequest,
    MessagesRequest,
    parse,
)


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-sonnet-5-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def test_a_well_formed_request_is_accepted_with_its_blocks_typed() -> None:
    # Given a request with a system prompt in blocks, a cache breakpoint and an image block
    body = _body(
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "data": "x"}},
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ],
        temperature=0.2,
    )
    # When it is validated
    request = parse(MessagesRequest, body)
    # Then the breakpoint's TTL is kept and the unknown block type passes through
    assert isinstance(request.system, list)
    assert request.system[0].cache_control is not None
    assert request.system[0].cache_control.ttl == "1h"
    assert not isinstance(request.messages[0].content, str)
    assert request.messages[0].content[0].type == "image"


@pytest.mark.parametrize(
    ("body", "expected_message"),
    [
        (_body(model=None), "model: Field required"),
        (_body(max_tokens=None), "max_tokens: Field required"),
        (_body(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
        (_body(max_tokens="100"), "max_tokens: Input should be a valid integer"),
        (_body(messages=[]), "messages: List should have at least 1 item after validation, not 0"),
        (
            _body(messages=[{"role": "bot", "content": "x"}]),
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (
            _body(messages=[{"role": "assistant", "content": "x"}]),
            'messages: first message must use the "user" role',
        ),
        (
            _body(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]),
            "messages.0.content.0.text: String should have at least 1 character",
        ),
        (
            _body(messages=[{"role": "user", "content": 5}]),
            "messages.0.content: Input should be a valid list",
        ),
        (_body(system=5), "system: Input should be a valid list"),
        (_body(temperature=3), "temperature: Input should be less than or equal to 1"),
        (_body(colour="blue"), "colour: Extra inputs are not permitted"),
    ],
)
def test_an_invalid_request_is_refused_naming_the_field(body: dict[str, Any], expected_message: str) -> None:
    # Given an invalid body; When it is validated
    with pytest.raises(ApiError) as raised:
        parse(MessagesRequest, body)
    # Then it is the real API's 400 with the offending field first
    assert (raised.value.status, raised.value.error_type) == (400, "invalid_request_error")
    assert raised.value.message == expected_message


def test_count_tokens_takes_no_max_tokens() -> None:
    # Given a count_tokens body, which has no max_tokens
    body = _body(max_tokens=None)
    # When it is validated as a count_tokens request
    request = parse(CountTokensRequest, body)
    # Then it is accepted
    assert request.model == "claude-sonnet-5-5"


def test_a_batch_request_may_not_stream() -> None:
    # Given a batch whose second request asks to stream
    body = {
        "requests": [{"custom_id": "a", "params": _body()}, {"custom_id": "b", "params": _body(stream=True)}]
    }
    # When the batch is validated; Then the item is named
    with pytest.raises(ApiError, match=r"requests\.1\.params\.stream"):
        parse(BatchCreateRequest, body)


def test_a_batch_custom_id_must_be_short_and_plain() -> None:
    # Given a custom_id with a space in it
    body = {"requests": [{"custom_id": "not allowed", "params": _body()}]}
    # When the batch is validated; Then it is refused
    with pytest.raises(ApiError, match=r"requests\.0\.custom_id"):
        parse(BatchCreateRequest, body)
