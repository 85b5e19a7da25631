"""The work item schema: what is accepted, what is refused, and why, in words a caller can act on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batch_jobs.schema import InvalidWorkItemError, ItemLimits, WorkItem, parse_work_item

LIMITS = ItemLimits(
    allowed_models=("claude-sonnet-5-5", "claude-haiku-5-5"),
    default_model="claude-sonnet-5-5",
    max_tokens_cap=1024,
    max_item_bytes=4096,
)


def item(**fields: Any) -> dict[str, Any]:
    return {
        "custom_id": "item-1",
        "params": {"max_tokens": 100, "messages": [{"role": "user", "content": "Hello"}]},
        **fields,
    }


def params(**fields: Any) -> dict[str, Any]:
    return {**item()["params"], **fields}


def reasons(body: dict[str, Any] | str) -> list[str]:
    with pytest.raises(InvalidWorkItemError) as raised:
        parse_work_item(body if isinstance(body, str) else json.dumps(body), LIMITS)
    return raised.value.errors


def test_minimal_item_gets_version_1_and_the_default_model():
    parsed = parse_work_item(json.dumps(item()), LIMITS)

    assert parsed.schema_version == 1
    assert parsed.params.model == "claude-sonnet-5-5"
    assert parsed.job_id is None


def test_messages_api_parameters_beyond_the_known_ones_pass_through_to_the_api():
    # Given an item with temperature, stop sequences and tools
    body = item(
        params=params(temperature=0.2, stop_sequences=["END"], tools=[{"name": "t", "input_schema": {}}])
    )

    # When it is parsed and turned into API params
    api = parse_work_item(json.dumps(body), LIMITS).params.to_api()

    # Then they are all there, unchanged, with the resolved model
    assert api["temperature"] == 0.2
    assert api["stop_sequences"] == ["END"]
    assert api["tools"] == [{"name": "t", "input_schema": {}}]
    assert api["model"] == "claude-sonnet-5-5"


def test_caller_metadata_and_user_are_kept_but_not_part_of_the_api_params():
    parsed = parse_work_item(json.dumps(item(user_id="alice", metadata={"review": 7})), LIMITS)

    assert parsed.user_id == "alice"
    assert parsed.metadata == {"review": 7}
    assert "review" not in json.dumps(parsed.params.to_api())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (item(custom_id="has spaces"), "custom_id"),
        (item(job_id="x" * 65), "job_id"),
        (item(schema_version=2), "schema_version"),
        (item(unexpected=True), "unexpected"),
        (item(params=params(messages=[])), "params.messages"),
        (item(params=params(messages=[{"role": "system", "content": "x"}])), "params.messages.0.role"),
        (item(params=params(max_tokens=0)), "params.max_tokens"),
    ],
)
def test_schema_violations_name_the_offending_field(body, expected):
    assert any(error.startswith(expected) for error in reasons(body))


def test_model_outside_the_allow_list_is_refused_with_the_list():
    (error,) = reasons(item(params=params(model="claude-opus-5-5")))

    assert "claude-opus-5-5" in error
    assert "claude-haiku-5-5" in error


def test_max_tokens_above_the_cap_is_refused():
    (error,) = reasons(item(params=params(max_tokens=2048)))

    assert "cap of 1024" in error


def test_streaming_is_refused():
    (error,) = reasons(item(params=params(stream=True)))

    assert "stream" in error


def test_oversized_item_is_refused_before_parsing():
    body = json.dumps(item(params=params(messages=[{"role": "user", "content": "x" * 5000}])))

    with pytest.raises(InvalidWorkItemError) as raised:
        parse_work_item(body, LIMITS)

    assert raised.value.reason == f"item is {len(body)} bytes; the limit is 4096 bytes"


def test_malformed_json_says_so():
    with pytest.raises(InvalidWorkItemError) as raised:
        parse_work_item("{not json", LIMITS)

    assert raised.value.reason == "body is not valid JSON"


def test_validating_without_deployment_limits_is_a_programming_error():
    with pytest.raises(TypeError, match="parse_work_item"):
        WorkItem.model_validate(item())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (item(params=params(max_tokens=True)), "params.max_tokens: Input should be a valid integer"),
        (item(params=params(max_tokens="100")), "params.max_tokens: Input should be a valid integer"),
        (item(params=params(system=" \n ")), "params.system: must contain visible characters"),
        (
            item(params=params(messages=[{"role": "user", "content": "\u200b\ufeff"}])),
            "params.messages.0.content: must contain visible characters",
        ),
        (
            item(params=params(messages=[{"role": "user", "content": [{"type": "text", "text": "\u0001"}]}])),
            "params.messages.0.content: must contain visible characters",
        ),
        (
            item(params=params(messages=[{"role": "user", "content": "a\u0000b"}])),
            "params.messages.0.content: must not contain NUL characters",
        ),
        (item(schema_version=True), "schema_version: must be the number 1"),
        (item(job_id=7), "job_id: Input should be a valid string"),
    ],
    ids=[
        "max-tokens-bool",
        "max-tokens-string",
        "blank-system",
        "zero-width-content",
        "control-text-block",
        "nul",
        "version-bool",
        "job-id-number",
    ],
)
def test_work_items_are_as_strict_as_chat_requests(body: dict[str, Any], expected: str) -> None:
    assert any(error.startswith(expected) for error in reasons(body)), reasons(body)


def test_blocks_other_than_text_pass_through_unchecked() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    body = item(
        params=params(messages=[{"role": "user", "content": [image, {"type": "text", "text": "What?"}]}])
    )

    parsed = parse_work_item(json.dumps(body), LIMITS)

    assert parsed.params.to_api()["messages"][0]["content"][0] == image


def test_an_integral_float_is_the_integer_json_means() -> None:
    parsed = parse_work_item(json.dumps(item(params=params(max_tokens=100.0))), LIMITS)

    assert parsed.params.max_tokens == 100
    assert reasons(item(params=params(max_tokens=100.5)))[0].startswith("params.max_tokens")
