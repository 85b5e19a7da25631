"""A scripted Anthropic API behind `httpx2.MockTransport`: the real SDK runs, no socket is opened.

Each request takes the next scripted reply (a message, an error, an SSE stream or a transport exception); when
the script is empty every request gets a plain successful message.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx2

from claude_kit.calls import CallContext, ClaudeRequest, StreamEnd, TextDelta
from claude_kit.clients import ClaudeClients
from claude_kit.errors import ClaudeAuthenticationError
from claude_kit.retry import RetryPolicy
from claude_kit.service import ClaudeService
from claude_kit.settings import RuntimeSettings
from claude_kit.telemetry import CallRecord

PLACEHOLDER_KEY = "sk-ant-placeholder-test-key"
MODEL = "claude-sonnet-5-5"
FALLBACK = "claude-haiku-5-5"
RATELIMIT_HEADERS = {
    "anthropic-ratelimit-requests-remaining": "41",
    "anthropic-ratelimit-tokens-remaining": "90000",
}

Reply = Callable[[httpx2.Request], httpx2.Response]


def message_body(text: str = "Hello there", *, model: str = MODEL, **usage: Any) -> dict[str, Any]:
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 3, **usage},
    }


def message(text: str = "Hello there", **usage: Any) -> Reply:
    def reply(request: httpx2.Request) -> httpx2.Response:
        model = json.loads(request.content)["model"]
        body = message_body(text, model=model, **usage)
        return httpx2.Response(200, json=body, headers={"request-id": "req_ok", **RATELIMIT_HEADERS})

    return reply


def error(status: int, error_type: str, text: str = "scripted failure", **headers: str) -> Reply:
    body = {"type": "error", "error": {"type": error_type, "message": text}}
    headers = {name.replace("_", "-"): value for name, value in headers.items()}

    def reply(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            status, json=body, headers={"request-id": "req_err", **headers}, request=request
        )

    return reply


def raises(exc_type: type[httpx2.TransportError]) -> Reply:
    def reply(request: httpx2.Request) -> httpx2.Response:
        raise exc_type("scripted transport failure", request=request)

    return reply


def text_events(
    *chunks: str, input_tokens: int = 12, output_tokens: int | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """A complete stream of `chunks` as text deltas."""
    start = message_body("", input_tokens=input_tokens, output_tokens=1)
    start["content"] = []
    return [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        *[
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}},
            )
            for chunk in chunks
        ],
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": output_tokens if output_tokens is not None else 2 * len(chunks)},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def error_event(error_type: str = "overloaded_error") -> tuple[str, dict[str, Any]]:
    return ("error", {"type": "error", "error": {"type": error_type, "message": "scripted mid-stream error"}})


@dataclass
class SseBody:
    """An SSE body that records whether the client stopped reading before its end."""

    events: list[tuple[str, dict[str, Any]]]
    closed_early: bool = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        finished = False
        try:
            for name, data in self.events:
                yield f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                await asyncio.sleep(0)
            finished = True
        finally:
            self.closed_early = not finished


def stream(events: Iterable[tuple[str, dict[str, Any]]], bodies: list[SseBody] | None = None) -> Reply:
    def reply(request: httpx2.Request) -> httpx2.Response:
        body = SseBody(list(events))
        if bodies is not None:
            bodies.append(body)
        headers = {"content-type": "text/event-stream", "request-id": "req_stream", **RATELIMIT_HEADERS}
        return httpx2.Response(200, content=body, headers=headers)

    return reply


@dataclass
class ApiDouble:
    script: deque[Reply] = field(default_factory=deque)
    requests: list[httpx2.Request] = field(default_factory=list)

    def queue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if request.url.path.endswith("/count_tokens"):
            return httpx2.Response(200, json={"input_tokens": 4321})
        return (self.script.popleft() if self.script else message())(request)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


@dataclass
class KeySource:
    """Hands out keys like the Secrets Manager secret would; `forced` counts cache-bypassing reads.

    With no keys it fails as `fetch_api_key` does when the secret cannot be read."""

    keys: list[str] = field(default_factory=lambda: [PLACEHOLDER_KEY])
    forced: int = 0

    def __call__(self, force: bool) -> str:
        if force:
            self.forced += 1
        if not self.keys:
            raise ClaudeAuthenticationError("Could not read the API key from secret 'absent'")
        return self.keys[min(self.forced, len(self.keys) - 1)]


@dataclass
class Harness:
    api: ApiDouble
    keys: KeySource
    service: ClaudeService
    records: list[CallRecord]
    sleeps: list[float]


def make_harness(
    *,
    settings: RuntimeSettings | None = None,
    keys: KeySource | None = None,
    seed: int = 7,
    retry_ambiguous: bool = False,
    **service_options: Any,
) -> Harness:
    api, keys = ApiDouble(), keys or KeySource()
    records: list[CallRecord] = []
    sleeps: list[float] = []

    async def async_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    clients = ClaudeClients(
        api_key=keys,
        base_url="https://claude.test",
        http_client=httpx2.Client(transport=httpx2.MockTransport(api)),
        async_http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(api)),
    )
    settings = settings or RuntimeSettings(fallback_model=FALLBACK)
    if retry_ambiguous:
        settings = settings.model_copy(update={"retry_ambiguous": True})
    service = ClaudeService(
        clients=clients,
        settings=settings,
        # From the settings, as `get_claude_service()` builds it; only the sleeps and the dice are the test's.
        retry_policy=RetryPolicy.from_settings(
            settings, sleep=sleeps.append, async_sleep=async_sleep, rng=random.Random(seed)
        ),
        emit=records.append,
        **service_options,
    )
    return Harness(api, keys, service, records, sleeps)


def ask(text: str = "Hi", **options: Any) -> ClaudeRequest:
    return ClaudeRequest(
        model=options.pop("model", MODEL),
        max_tokens=options.pop("max_tokens", 256),
        messages=[{"role": "user", "content": text}],
        **options,
    )


CTX = CallContext(route="test", user_id="user-1", request_id="caller-req-1")


def text_of(event: TextDelta | StreamEnd) -> str:
    assert isinstance(event, TextDelta)
    return event.text


def collect(service: ClaudeService, request: ClaudeRequest, ctx: CallContext = CTX) -> list[Any]:
    async def run() -> list[Any]:
        return [event async for event in service.stream(request, ctx)]

    return asyncio.run(run())
