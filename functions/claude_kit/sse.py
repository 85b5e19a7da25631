"""Claude's event stream read a network chunk at a time: every event that arrived together, as plain dicts.

The SDK's `AsyncStream` builds a model object per event (about half the relay's cost per delta, measured in
docs/BENCHMARKS.md); `AsyncStream.raw_events` yields one event at a time, so a relay cannot tell which events
arrived together. This reads the same response bytes, decodes lines with the SDK's own `SSEDecoder` (the SSE
field rules) and hands on each chunk's events as one list, so the chat can write them in one frame batch
without ever waiting for a next event. `error` events raise `APIStatusError` exactly as the SDK's stream does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx2

#: One decoded stream event: `{"type": "content_block_delta", "index": 0, "delta": {...}}` and so on.
StreamEvent = dict[str, Any]


async def event_batches(response: httpx2.Response) -> AsyncIterator[list[StreamEvent]]:
    """The events of each chunk read from `response`, in order; chunks that complete no event are skipped."""
    from anthropic import APIStatusError
    from anthropic._streaming import SSEDecoder

    decoder = SSEDecoder()
    # Lines end in LF or CRLF (the API's, as every HTTP server's); SSE's lone-CR line end is not expected.
    pending = b""
    async for chunk in response.aiter_bytes():
        *lines, pending = (pending + chunk).split(b"\n")
        batch: list[StreamEvent] = []
        for line in lines:
            sse = decoder.decode(line.removesuffix(b"\r").decode("utf-8"))
            if sse is None or sse.event in (None, "ping") or not sse.data:
                continue
            if sse.event == "error":
                try:
                    body: Any = json.loads(sse.data)
                except ValueError:
                    body = sse.data
                raise APIStatusError(f"{body}", response=response, body=body)
            batch.append(json.loads(sse.data))
        if batch:
            yield batch
