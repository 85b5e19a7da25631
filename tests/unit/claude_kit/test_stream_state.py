"""StreamState folds raw stream events into the message and its billed usage, as the API reports it."""

from __future__ import annotations

import math
from typing import Any

import pytest
from anthropic.types import RawMessageStreamEvent
from pydantic import TypeAdapter

from claude_kit.calls import Usage
from claude_kit.stream_state import StreamState

EVENT: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


def fold(*events: dict[str, Any]) -> tuple[StreamState, list[str]]:
    state, texts = StreamState(), []
    for event in events:
        EVENT.validate_python(event)  # each scripted event is one the API can send
        if (text := state.apply(event)) is not None:
            texts.append(text)
    return state, texts


def start(**usage: int) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-5-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1, **usage},
    }
    return {"type": "message_start", "message": message}


def block(index: int, content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": content}


def delta(index: int, value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": value}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def test_text_thinking_signature_and_citations_are_assembled() -> None:
    citation = {
        "type": "char_location",
        "cited_text": "the runbook",
        "document_index": 0,
        "document_title": "Runbook",
        "start_char_index": 0,
        "end_char_index": 11,
        "file_id": None,
    }
    state, texts = fold(
        start(),
        block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "Let me "}),
        delta(0, {"type": "thinking_delta", "thinking": "think."}),
        delta(0, {"type": "signature_delta", "signature": "sig-123"}),
        stop(0),
        block(1, {"type": "text", "text": ""}),
        delta(1, {"type": "text_delta", "text": "Hello "}),
        delta(1, {"type": "text_delta", "text": "there"}),
        delta(1, {"type": "citations_delta", "citation": citation}),
        stop(1),
    )
    assert texts == ["Hello ", "there"]
    assert state.blocks[0]["thinking"] == "Let me think."
    assert state.blocks[0]["signature"] == "sig-123"
    assert state.blocks[1]["text"] == "Hello there"
    assert state.blocks[1]["citations"] == [citation]


def test_a_tool_call_without_arguments_gets_an_empty_input() -> None:
    state, _ = fold(
        start(),
        block(0, {"type": "tool_use", "id": "tu_1", "name": "now", "input": {}}),
        delta(0, {"type": "input_json_delta", "partial_json": ""}),
        stop(0),
    )
    assert state.blocks[0]["input"] == {}


def test_message_delta_keeps_the_start_counts_it_does_not_repeat_and_takes_those_it_does() -> None:
    # Given a start with cache counts, and a final delta that reports only output
    state, _ = fold(
        start(cache_creation_input_tokens=300, cache_read_input_tokens=200),
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 42},
        },
    )
    assert state.usage() == Usage(
        input_tokens=10, output_tokens=42, cache_creation_input_tokens=300, cache_read_input_tokens=200
    )
    # And a final delta that repeats them with new values wins
    state, _ = fold(
        start(cache_creation_input_tokens=300, cache_read_input_tokens=200),
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {
                "output_tokens": 42,
                "input_tokens": 11,
                "cache_creation_input_tokens": 301,
                "cache_read_input_tokens": 201,
            },
        },
    )
    assert state.usage() == Usage(
        input_tokens=11, output_tokens=42, cache_creation_input_tokens=301, cache_read_input_tokens=201
    )
    assert state.output_estimated is False


def test_a_cut_stream_keeps_its_input_counts_and_estimates_text_thinking_and_tool_json() -> None:
    # Given a stream cut after 35 characters of text, 70 of thinking and 35 of a tool call's JSON
    state, _ = fold(
        start(cache_creation_input_tokens=300, cache_read_input_tokens=200),
        block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "t" * 70}),
        stop(0),
        block(1, {"type": "text", "text": ""}),
        delta(1, {"type": "text_delta", "text": "x" * 35}),
        stop(1),
        block(2, {"type": "tool_use", "id": "tu_1", "name": "lookup", "input": {}}),
        delta(2, {"type": "input_json_delta", "partial_json": '{"q": "' + "y" * 26}),
    )
    usage = state.usage()
    # Then every input count stays as reported, and the output is 10 + 20 + 10 tokens at 3.5 characters each
    assert (usage.input_tokens, usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (
        10,
        300,
        200,
    )
    assert usage.output_tokens == 10 + 20 + 10
    assert state.output_estimated is True


def test_a_finished_tool_calls_arguments_count_in_the_estimate() -> None:
    state, _ = fold(
        start(),
        block(0, {"type": "tool_use", "id": "tu_1", "name": "lookup", "input": {}}),
        delta(0, {"type": "input_json_delta", "partial_json": '{"query": "' + "z" * 60 + '"}'}),
        stop(0),
    )
    assert state.blocks[0]["input"] == {"query": "z" * 60}
    assert state.generated_tokens_estimate() == pytest.approx(
        len('{"query": "' + "z" * 60 + '"}') / 3.5, abs=1
    )


def final(**usage: int) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 42, **usage},
    }


ONE_HOUR_WRITES: dict[str, Any] = {
    "cache_creation_input_tokens": 300,
    "cache_creation": {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 100},
}


def test_the_message_is_started_finished_and_complete_only_as_its_events_say() -> None:
    state = StreamState()
    assert (state.started, state.output_estimated, state.complete) == (False, False, False)

    state, _ = fold(start())
    assert (state.message_id, state.started, state.output_estimated) == ("msg_1", True, True)

    state, _ = fold(start(), final())
    assert (state.stop_reason, state.output_estimated, state.complete) == ("end_turn", False, False)

    state, _ = fold(start(), final(), {"type": "message_stop"})
    assert state.complete is True


def test_one_hour_cache_writes_reported_at_the_start_are_kept_to_the_end_or_the_cut() -> None:
    expected = Usage(
        input_tokens=10, output_tokens=42, cache_creation_input_tokens=300, cache_creation_1h_input_tokens=100
    )
    finished, _ = fold(start(**ONE_HOUR_WRITES), final())
    assert finished.usage() == expected

    cut, _ = fold(start(**ONE_HOUR_WRITES))
    assert cut.usage() == Usage(
        input_tokens=10, output_tokens=1, cache_creation_input_tokens=300, cache_creation_1h_input_tokens=100
    )


def test_a_cut_stream_never_reports_less_output_than_the_start_did() -> None:
    # Given a start that reported 5 output tokens and no content after it
    state, _ = fold(start(output_tokens=5))
    assert state.usage().output_tokens == 5


def test_text_pieces_add_to_the_text_a_block_started_with() -> None:
    state, texts = fold(
        start(),
        block(0, {"type": "text", "text": "Hel"}),
        delta(0, {"type": "text_delta", "text": "lo"}),
        block(1, {"type": "text", "text": ""}),
        delta(1, {"type": "text_delta", "text": "again"}),
    )
    assert texts == ["lo", "again"]
    assert [b["text"] for b in state.blocks] == ["Hello", "again"]
    # The blocks handed out are copies: changing them changes nothing in the state
    state.blocks[0]["text"] = "changed"
    assert state.blocks[0]["text"] == "Hello"
    assert state.generated_tokens_estimate() == 2 + 2  # ceil(5 / 3.5) + ceil(5 / 3.5)


def test_a_tool_call_started_with_its_input_counts_that_input() -> None:
    state, _ = fold(
        start(), block(0, {"type": "tool_use", "id": "tu_1", "name": "lookup", "input": {"q": "x" * 30}})
    )
    assert state.generated_tokens_estimate() == math.ceil(len('{"q": "' + "x" * 30 + '"}') / 3.5)


def test_the_time_to_first_token_is_the_first_hand_on() -> None:
    state = StreamState()
    state.handed_on(120.0)
    state.handed_on(340.0)
    assert state.ttft_ms == 120.0


def test_a_final_delta_reporting_no_output_is_taken_at_its_word() -> None:
    state, _ = fold(start(), final(output_tokens=0))
    assert state.usage().output_tokens == 0


def test_a_tool_call_cut_in_pieces_counts_its_pieces_joined() -> None:
    # Given a tool call's JSON arriving in three pieces, cut before its block stopped
    state, _ = fold(
        start(output_tokens=0),
        block(0, {"type": "tool_use", "id": "tu_1", "name": "lookup", "input": {}}),
        delta(0, {"type": "input_json_delta", "partial_json": '{"q'}),
        delta(0, {"type": "input_json_delta", "partial_json": '": '}),
        delta(0, {"type": "input_json_delta", "partial_json": '"x'}),
    )
    # Then the estimate is the joined text at 3.5 characters a token
    assert state.generated_tokens_estimate() == math.ceil(len('{"q": "x') / 3.5)
