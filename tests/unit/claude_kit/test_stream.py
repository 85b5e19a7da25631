"""ClaudeService.stream: text as it comes, one StreamEnd, retries only before the first text, honest usage."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest

from claude_kit.calls import StreamEnd, TextDelta, Usage
from claude_kit.errors import (
    ClaudeBusyError,
    ClaudeError,
    ClaudeRateLimitedError,
    ClaudeStreamInterruptedError,
)
from claude_kit.pricing import load_price_table
from claude_kit.reservation import SpendGate
from claude_kit.settings import RuntimeSettings
from tests.fixtures.money import MemoryQuota
from tests.unit.claude_kit.api_double import (
    CTX,
    SseBody,
    ask,
    collect,
    error,
    error_event,
    make_harness,
    stream,
    text_events,
    text_of,
)


def test_stream_yields_every_delta_then_exactly_one_end_with_usage_and_cost():
    harness = make_harness()
    harness.api.queue(stream(text_events("Hel", "lo ", "world", input_tokens=100, output_tokens=7)))

    events = collect(harness.service, ask())

    deltas = [event for event in events[:-1] if isinstance(event, TextDelta)]
    assert [text for event in deltas for text in event.texts] == ["Hel", "lo ", "world"]
    assert len(deltas) == len(events) - 1
    end = events[-1]
    assert isinstance(end, StreamEnd)
    result = end.result
    assert (result.text, result.stop_reason, result.partial) == ("Hello world", "end_turn", False)
    assert (result.usage.input_tokens, result.usage.output_tokens) == (100, 7)
    assert result.cost_usd == pytest.approx((100 * 2 + 7 * 10) / 1e6)
    assert result.ttft_ms is not None
    assert result.ttft_ms <= result.latency_ms
    (record,) = harness.records
    assert (record.streamed, record.error_type, record.ratelimit_requests_remaining) == (True, None, 41)
    assert harness.api.bodies()[0]["stream"] is True


def test_a_failure_before_the_first_text_is_retried_without_duplicating_text():
    # Given a stream that errors mid-way before any text, then a good one
    harness = make_harness()
    broken = [*text_events("never", "seen")[:2], error_event("overloaded_error")]
    harness.api.queue(stream(broken), stream(text_events("Fresh", " start")))

    events = collect(harness.service, ask())

    assert [text for event in events if isinstance(event, TextDelta) for text in event.texts] == [
        "Fresh",
        " start",
    ]
    assert events[-1].result.retries == 1
    assert len(harness.api.requests) == 2


def test_an_error_status_on_open_is_retried_then_falls_back():
    harness = make_harness()
    harness.api.queue(
        error(529, "overloaded_error"), error(529, "overloaded_error"), stream(text_events("Hi"))
    )

    events = collect(harness.service, ask())

    assert events[-1].result.fallback_used is True
    assert [body["model"] for body in harness.api.bodies()][-1] == "claude-haiku-5-5"


def test_an_error_after_the_first_text_ends_the_stream_typed_with_the_partial_result():
    # Given a stream that sends text, then an overloaded error event
    harness = make_harness()
    events = text_events("Once", " upon")
    harness.api.queue(stream([*events[:4], error_event("overloaded_error")]))
    received: list[str] = []

    async def consume() -> None:
        async for event in harness.service.stream(ask(), CTX):
            received.append(text_of(event))

    # When it is consumed, Then the text already given is not repeated and the failure is typed
    with pytest.raises(ClaudeStreamInterruptedError) as raised:
        asyncio.run(consume())
    assert received == ["Once", " upon"]
    assert len(harness.api.requests) == 1  # never retried once text was handed on
    partial = raised.value.partial
    assert partial is not None
    assert partial.partial is True
    assert partial.text == "Once upon"
    assert partial.usage.input_tokens == 12
    assert partial.usage.output_tokens >= 2  # estimated from the text, no final usage arrived
    (record,) = harness.records
    assert record.error_type == "overloaded_error"
    assert record.usage == partial.usage


def test_a_stream_that_ends_without_message_stop_is_an_interruption():
    harness = make_harness()
    harness.api.queue(stream(text_events("Cut", " short")[:4]))

    with pytest.raises(ClaudeStreamInterruptedError) as raised:
        collect(harness.service, ask())

    assert raised.value.error_type == "connection_error"
    assert raised.value.partial is not None
    assert raised.value.partial.text == "Cut short"


def test_closing_the_stream_early_closes_upstream_and_records_partial_usage():
    # Given a long stream
    harness = make_harness()
    bodies: list[SseBody] = []
    harness.api.queue(stream(text_events(*[f"w{index} " for index in range(50)]), bodies))

    # When the consumer takes two deltas and goes away
    async def consume_two() -> list[str]:
        generator = harness.service.stream(ask(), CTX)
        taken = [text_of(await anext(generator)), text_of(await anext(generator))]
        await generator.aclose()
        return taken

    taken = asyncio.run(consume_two())

    # Then the upstream body was not read to its end and the usage so far is recorded, not as an error
    assert taken == ["w0 ", "w1 "]
    assert bodies[0].closed_early is True
    (record,) = harness.records
    assert record.error_type == "client_disconnected"
    assert record.failed is False
    assert record.usage.input_tokens == 12
    assert record.usage.output_tokens >= 1


def test_a_cancelled_consumer_is_recorded_as_a_disconnect():
    harness = make_harness()
    harness.api.queue(stream(text_events(*["x"] * 20)))

    async def cancel_after_first() -> None:
        first_text = asyncio.Event()

        async def consume() -> None:
            # aclosing: a cancelled consumer closes the stream at once instead of leaving it to the GC
            async with contextlib.aclosing(harness.service.stream(ask(), CTX)) as events:
                async for _ in events:
                    first_text.set()
                    await asyncio.Event().wait()  # a slow client: never asks for more

        task = asyncio.create_task(consume())
        await first_text.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_after_first())

    assert [record.error_type for record in harness.records] == ["client_disconnected"]


def test_tool_use_blocks_are_assembled_from_json_deltas():
    harness = make_harness()
    start = text_events()[0]
    tool_events = [
        start,
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": "Pa'},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": 'ris"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    harness.api.queue(stream(tool_events))

    (end,) = collect(harness.service, ask())

    assert end.result.stop_reason == "tool_use"
    assert end.result.content == [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    assert end.result.ttft_ms is None


def test_a_stream_failing_before_any_text_raises_the_typed_error_and_records_it():
    harness = make_harness()
    harness.api.queue(*[error(529, "overloaded_error")] * 3)

    with pytest.raises(ClaudeBusyError):
        collect(harness.service, ask())

    assert [record.error_type for record in harness.records] == ["overloaded_error"]


def test_input_already_processed_is_billed_when_a_stream_fails_before_any_text():
    # Given streams that report their input (message_start) then fail before any text, every time
    harness = make_harness()
    broken = [*text_events("never", input_tokens=5000)[:2], error_event("overloaded_error")]
    harness.api.queue(*[stream(broken)] * 3)

    # When the call gives up
    with pytest.raises(ClaudeBusyError):
        collect(harness.service, ask())

    # Then its record carries every attempt's input (each reached message_start, so each was billed), priced
    # per attempt on the model that served it: two on the primary, one on the fallback
    (record,) = harness.records
    assert record.usage.input_tokens == 3 * 5000
    assert record.billed_attempts == 3
    primary, fallback = record.requested_model, record.model
    assert fallback != primary
    prices = load_price_table()
    one = Usage(input_tokens=5000, output_tokens=1)
    primary_cost, fallback_cost = prices.cost(primary, one), prices.cost(fallback, one)
    assert primary_cost is not None
    assert fallback_cost is not None
    assert record.cost_usd == pytest.approx(2 * primary_cost + fallback_cost)


def test_a_mid_stream_rate_limit_error_is_retried_as_a_rate_limit_not_as_overloaded():
    # Given three streams that fail with a rate_limit_error event before any text, then a good one
    harness = make_harness(settings=RuntimeSettings(fallback_model=None))
    broken = [*text_events("never")[:2], error_event("rate_limit_error")]
    harness.api.queue(*[stream(broken)] * 3, stream(text_events("At last")))

    events = collect(harness.service, ask())

    # Then it was retried like a 429 (up to the policy's attempts), where an overloaded error stops after one
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "At last"
    assert len(harness.api.requests) == 4
    assert events[-1].result.retries == 3
    assert events[-1].result.billed_attempts == 4


def test_the_first_token_deadline_bounds_retry_waits():
    # Given a 429 asking for a 20 s wait, and a chat whose first token is due within 5 s
    harness = make_harness(settings=RuntimeSettings(fallback_model=None, first_token_deadline_seconds=5))
    harness.api.queue(error(429, "rate_limit_error", retry_after="20"), stream(text_events("late")))

    # When the stream is asked for
    with pytest.raises(ClaudeRateLimitedError):
        collect(harness.service, ask())

    # Then the kit did not sleep past the deadline: the caller hears at once
    assert harness.sleeps == []
    assert len(harness.api.requests) == 1

    # And without a deadline the same wait is taken
    harness = make_harness(settings=RuntimeSettings(fallback_model=None, first_token_deadline_seconds=None))
    harness.api.queue(error(429, "rate_limit_error", retry_after="20"), stream(text_events("late")))
    events = collect(harness.service, ask())
    assert [text for e in events if isinstance(e, TextDelta) for text in e.texts] == ["late"]
    assert harness.sleeps == [20.0]


def test_thinking_and_tool_json_count_in_a_cut_streams_output_estimate():
    # Given a stream that thinks for 26,000 characters, then is cut before any text
    thinking = "step " * 5200
    start = text_events("x", input_tokens=50)[0]
    events = [
        start,
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": thinking},
            },
        ),
    ]
    harness = make_harness(settings=RuntimeSettings(fallback_model=None))
    harness.api.queue(stream(events), stream(events))

    with pytest.raises(ClaudeError):
        collect(harness.service, ask())

    # Then each billed attempt's output is estimated from its thinking (≈ 26,000 / 3.5), not recorded as 1
    (record,) = harness.records
    per_attempt = record.usage.output_tokens / record.billed_attempts
    assert record.billed_attempts == 2
    assert 26_000 / 4 <= per_attempt <= 26_000 / 3
    assert record.estimated_output_tokens == record.usage.output_tokens


def test_a_consumer_cancelled_while_the_hold_is_taken_leaves_nothing_held():
    # Given a user quota whose hold takes a while (a slow table), and a consumer cancelled meanwhile
    quota = MemoryQuota()
    taken = threading.Event()
    hold = quota.hold

    def slow_hold(user_id, worst):
        taken.set()
        time.sleep(0.2)
        return hold(user_id, worst)

    quota.hold = slow_hold  # type: ignore[method-assign]  # a slow table, for this test only
    harness = make_harness(gate=SpendGate(quota=quota))  # type: ignore[arg-type]  # a UserQuota stand-in
    harness.api.queue(stream(text_events("never read")))

    async def cancel_while_holding() -> None:
        async def consume() -> None:
            async with contextlib.aclosing(harness.service.stream(ask(), CTX)) as events:
                async for _ in events:
                    pass

        task = asyncio.create_task(consume())
        while not taken.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.4)  # the worker thread finishes taking the hold after the caller left

    asyncio.run(cancel_while_holding())

    # Then the hold the thread took was given back, and Claude was never called
    assert len(quota.holds) == 1
    assert len(quota.released) == 1
    assert quota.committed == pytest.approx(0)
    assert harness.api.requests == []


def test_a_stream_retry_after_a_billed_attempt_tops_the_hold_up_off_the_event_loop():
    # Given a user quota, and a stream whose first attempt is billed (message_start) then fails before text
    quota = MemoryQuota()
    top_up_threads: list[threading.Thread] = []
    top_up = quota.top_up

    def recorded_top_up(hold, to):
        top_up_threads.append(threading.current_thread())
        return top_up(hold, to)

    quota.top_up = recorded_top_up  # type: ignore[method-assign]  # to see where it runs
    harness = make_harness(gate=SpendGate(quota=quota))  # type: ignore[arg-type]  # a UserQuota stand-in
    broken = [*text_events("never", input_tokens=5000)[:2], error_event("overloaded_error")]
    harness.api.queue(stream(broken), stream(text_events("At last")))

    # When the call is retried and answers
    events = collect(harness.service, ask())

    # Then the hold was raised before the retry (the first bill plus another worst case), in a worker
    # thread, never on the event loop's thread, and the answer came through
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "At last"
    assert len(top_up_threads) == 1
    assert top_up_threads[0] is not threading.main_thread()
    assert len(quota.top_ups) == 1
