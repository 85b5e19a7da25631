"""An event stream that never stays silent long enough for API Gateway to close it.

A REGIONAL REST API closes a streamed response after 5 minutes without a byte (idle timeout; 30 s for EDGE:
/work/shared/reference/aws-deploy-facts.md, "API Gateway REST response streaming"). Claude can think longer
than that before its first text. After `keepalive_seconds` without a write, this response writes an SSE
comment line (`: keep-alive`), which EventSource clients, the SDK's parsers and the kit's page ignore.

FastAPI has the same mechanism built in, but only for routes that `yield` (every 15 s, not configurable);
`POST /chat` decides between JSON and a stream first, so it returns this response instead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping

import anyio
from anyio.abc import ObjectSendStream
from fastapi.sse import EventSourceResponse
from starlette.background import BackgroundTask
from starlette.types import Send

#: An SSE comment: a line starting with a colon, ignored by every conforming client.
KEEPALIVE_COMMENT = b": keep-alive\n\n"


class KeepAliveEventSourceResponse(EventSourceResponse):
    """`text/event-stream` from `content`, with a comment line after each `keepalive_seconds` of silence.

    One task relays the events, one writes the comments, both into one channel that only this response's
    `send` drains: nothing waiting for an event is ever cancelled, so no event can be lost to a ping.
    """

    def __init__(
        self,
        content: AsyncGenerator[bytes],
        *,
        keepalive_seconds: float,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(content, headers=headers, background=background)
        self._events = content
        self.keepalive_seconds = keepalive_seconds
        self._last_write = 0.0

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        self._last_write = anyio.current_time()
        chunks, received = anyio.create_memory_object_stream[bytes](0)
        pings = anyio.CancelScope()
        async with anyio.create_task_group() as tasks, received:
            tasks.start_soon(self._relay, chunks, pings)
            tasks.start_soon(self._keep_alive, chunks.clone(), pings)
            async for chunk in received:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self._last_write = anyio.current_time()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _relay(self, chunks: ObjectSendStream[bytes], pings: anyio.CancelScope) -> None:
        try:
            async with chunks:
                async for chunk in self._events:
                    await chunks.send(chunk)
            pings.cancel()  # the last event is out: closing the comments' channel too ends the response
        finally:
            # Closed here, in the task that iterated it, even when the client went away mid-stream: left to
            # the garbage collector, the event generators would be finalized in separate tasks, concurrently.
            with anyio.CancelScope(shield=True):
                await self._events.aclose()

    async def _keep_alive(self, chunks: ObjectSendStream[bytes], pings: anyio.CancelScope) -> None:
        with pings:
            async with chunks:
                while True:
                    due = self._last_write + self.keepalive_seconds
                    await anyio.sleep_until(due)
                    if anyio.current_time() >= self._last_write + self.keepalive_seconds:
                        await chunks.send(KEEPALIVE_COMMENT)
                        self._last_write = anyio.current_time()
