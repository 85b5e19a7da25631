"""The event stream read a network chunk at a time: events split across reads are whole, events that arrived
together come out together, pings and comments are skipped, an `error` event raises as the SDK raises it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from anthropic import APIStatusError

from claude_kit.sse import event_batches


def frame(event: str, data: dict[str, Any], *, newline: str = "\n") -> bytes:
    return f"event: {event}{newline}data: {json.dumps(data)}{newline}{newline}".encode()


def delta(text: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}


def read(*chunks: bytes) -> list[list[dict[str, Any]]]:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async def run() -> list[list[dict[str, Any]]]:
        response = httpx2.Response(
            200, content=body(), request=httpx2.Request("POST", "http://claude/v1/messages")
        )
        return [batch async for batch in event_batches(response)]

    return asyncio.run(run())


def test_events_that_arrive_together_come_out_as_one_batch_in_order() -> None:
    together = frame("content_block_delta", delta("a")) + frame("content_block_delta", delta("b"))
    assert read(together, frame("content_block_delta", delta("c"))) == [
        [delta("a"), delta("b")],
        [delta("c")],
    ]


def test_an_event_split_across_reads_is_whole_once_its_end_arrives() -> None:
    whole = frame("content_block_delta", delta("héllo wörld"), newline="\r\n")
    pieces = [whole[:5], whole[5:31], whole[31:-1], whole[-1:]]
    assert read(*pieces) == [[delta("héllo wörld")]]


def test_pings_and_comments_are_skipped() -> None:
    chunks = (
        b": keep-alive\n\n",
        frame("ping", {"type": "ping"}),
        frame("message_stop", {"type": "message_stop"}),
    )
    assert read(*chunks) == [[{"type": "message_stop"}]]


def test_an_error_event_raises_the_sdks_status_error_with_its_type() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(APIStatusError) as raised:
        read(frame("content_block_delta", delta("a")), frame("error", error))
    assert raised.value.status_code == 200
    assert raised.value.type == "overloaded_error"
