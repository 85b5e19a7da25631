"""An event stream that never stays silent long enough for API Gateway to close it.

A REGIONAL REST API closes a streamed response after 5 minutes without a byte (idle timeout; 30 s for EDGE:
/work/shared/reference/aws-deploy-facts.md, "API Gateway REST response streaming"). Claude can think longer
than that before its first text. After `keepalive_seconds` without a write, this response writes an SSE
comment line (`: keep-alive`), which EventSource clients, the SDK's parsers and the kit's page ignore.

FastAPI has the same mechanism built in, but only for routes that `yield` (every 15 s, not configurable);
`POST /chat` decides between JSON and a stream first, so it returns this response instead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping

import anyio
from fastapi.sse import EventSourceResponse
from starlette.background import BackgroundTask
from starlette.types import Send

#: An SSE comment: a line starting with a colon, ignored by every conforming client.
KEEPALIVE_COMMENT = b": keep-alive\n\n"


class KeepAliveEventSourceResponse(EventSourceResponse):
    """`text/event-stream` from `content`, with a comment line after each `keepalive_seconds` of silence.

    The events are written by the task that reads them, one `send` per chunk, with no hand-off in between;
    a second task sleeps and writes a comment when nothing was written for `keepalive_seconds`. A lock that
    costs nothing uncontended keeps their writes whole. Nothing waiting for an event is ever cancelled, so no
    event can be lost to a ping.
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
        writing = anyio.Lock(fast_acquire=True)

        async def write(chunk: bytes) -> None:
            async with writing:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self._last_write = anyio.current_time()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._keep_alive, write)
            try:
                async for chunk in self._events:
                    await write(chunk)
            finally:
                # Closed here, in the task that iterated it, even when the client went away mid-stream: left
                # to the garbage collector, the event generators would be finalized in separate tasks.
                with anyio.CancelScope(shield=True):
                    await self._events.aclose()
            tasks.cancel_scope.cancel()  # the last event is out: no more comments
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _keep_alive(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        while True:
            await anyio.sleep_until(self._last_write + self.keepalive_seconds)
            if anyio.current_time() >= self._last_write + self.keepalive_seconds:
                await write(KEEPALIVE_COMMENT)
