"""The fake's HTTP surface: the Messages, count_tokens and Message Batches endpoints the `anthropic` SDK
calls, plus `/_fake/faults` and `/_fake/reset` for driving a running fake (`make local`) from curl."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from local.fake_claude import usage_report as reports
from local.fake_claude.faults import (
    ApiFailure,
    CutStream,
    FaultSpecError,
    Overloaded,
    RateLimited,
    SlowStream,
    Stall,
    StreamError,
    parse_faults,
)
from local.fake_claude.ledger import Outcome
from local.fake_claude.protocol import (
    ApiError,
    BatchCreateRequest,
    CountTokensRequest,
    MessagesRequest,
    error_body,
    invalid_request,
    parse,
)
from local.fake_claude.replies import Reply, is_token_delta, new_id
from local.fake_claude.scripted import ScriptError, parse_rules
from local.fake_claude.state import FakeClaude, RecordedRequest

_REDACTED_HEADERS = frozenset({"authorization", "x-api-key"})
_NOT_JSON = object()


@dataclass(frozen=True)
class Call:
    request: Request
    raw_body: bytes
    body: Any
    request_id: str


Handler = Callable[[Call], Awaitable[Response]]


def create_app(fake: FakeClaude) -> Starlette:
    api = _Api(fake)
    return Starlette(
        routes=[
            Route("/v1/messages", api.endpoint(api.create_message), methods=["POST"]),
            Route("/v1/messages/count_tokens", api.endpoint(api.count_tokens), methods=["POST"]),
            Route("/v1/messages/batches", api.endpoint(api.create_batch), methods=["POST"]),
            Route("/v1/messages/batches", api.endpoint(api.list_batches), methods=["GET"]),
            Route("/v1/messages/batches/{batch_id}", api.endpoint(api.retrieve_batch), methods=["GET"]),
            Route("/v1/messages/batches/{batch_id}", api.endpoint(api.delete_batch), methods=["DELETE"]),
            Route("/v1/messages/batches/{batch_id}/cancel", api.endpoint(api.cancel_batch), methods=["POST"]),
            Route(
                "/v1/messages/batches/{batch_id}/results", api.endpoint(api.batch_results), methods=["GET"]
            ),
            Route(
                "/v1/organizations/usage_report/messages",
                api.endpoint(api.usage_report, admin=True),
                methods=["GET"],
            ),
            Route(
                "/v1/organizations/cost_report", api.endpoint(api.cost_report, admin=True), methods=["GET"]
            ),
            Route("/_fake/faults", api.inject_faults, methods=["POST"]),
            Route("/_fake/replies", api.script_replies, methods=["POST"]),
            Route("/_fake/reset", api.reset, methods=["POST"]),
            Route("/_fake/ledger", api.ledger, methods=["GET"]),
        ],
        exception_handlers={404: api.not_an_api_route, 405: api.not_an_api_route},
    )


class _Api:
    def __init__(self, fake: FakeClaude) -> None:
        self.fake = fake

    def _finish(self, response: Response, request_id: str) -> Response:
        """The headers every API response carries."""
        exhausted = response.status_code == 429
        response.headers.update(
            {"request-id": request_id, **self.fake.rate_limit_headers(exhausted=exhausted)}
        )
        return response

    async def not_an_api_route(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        request_id = new_id("req_")
        message = f"{request.method} {request.url.path} is not an API route"
        return self._finish(
            JSONResponse(error_body("not_found_error", message, request_id), status_code=status), request_id
        )

    def endpoint(self, handler: Handler, *, admin: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """Record, authenticate (with the admin key for `admin` routes), version-check; answer ApiError as the
        API does; add request-id and rate-limit headers to every response."""

        async def run(request: Request) -> Response:
            request_id = new_id("req_")
            raw_body = await request.body()
            body = _json(raw_body)
            self.fake.record(
                RecordedRequest(
                    method=request.method,
                    path=request.url.path,
                    headers={
                        k: "<redacted>" if k in _REDACTED_HEADERS else v for k, v in request.headers.items()
                    },
                    body=body if isinstance(body, dict) else {},
                )
            )
            try:
                if admin and not self.fake.admin_authenticated(request.headers):
                    raise ApiError(
                        401, "authentication_error", "invalid x-api-key: the Admin API needs an admin key"
                    )
                if not admin and not self.fake.authenticated(request.headers):
                    raise ApiError(401, "authentication_error", "invalid x-api-key")
                if "anthropic-version" not in request.headers:
                    raise invalid_request("anthropic-version: header is required")
                if body is _NOT_JSON:
                    raise invalid_request("There was an issue with your request body: it is not valid JSON")
                response = await handler(Call(request, raw_body, body, request_id))
            except ApiError as exc:
                response = JSONResponse(
                    error_body(exc.error_type, exc.message, request_id),
                    status_code=exc.status,
                    headers=exc.headers,
                )
            return self._finish(response, request_id)

        return run

    async def create_message(self, call: Call) -> Response:
        params = parse(MessagesRequest, call.body)
        self.fake.check_model(params.model)
        fault = self.fake.take_fault(stream=params.stream)
        if isinstance(fault, RateLimited | Overloaded | ApiFailure):
            raise _fault_error(fault)
        if not params.stream:
            # A whole message is generated, and billed, whether or not its client waits for it.
            reply = self.fake.answer(params)
            gone = isinstance(fault, Stall) and await _client_leaves_within(call.request, fault.seconds)
            self.fake.bill(
                reply.billed(
                    request_id=call.request_id,
                    at=self.fake.now(),
                    stream=False,
                    outcome="abandoned" if gone else "complete",
                )
            )
            if gone:
                self.fake.client_gone()
                return Response(status_code=499)  # nobody is left to read it
            return JSONResponse(reply.message())
        if isinstance(fault, Stall) and fault.after_events == 0:
            if await _client_leaves_within(call.request, fault.seconds):
                self.fake.client_gone()
                return Response(status_code=499)  # nothing was generated: nothing is billed
            fault = None
        reply = self.fake.answer(params)
        config = self.fake.config
        pace = fault if isinstance(fault, SlowStream) else config
        mid_stream = fault if isinstance(fault, CutStream | StreamError | Stall) else None
        frames = _frames(
            reply,
            tokens_per_second=pace.tokens_per_second,
            first_token_delay_s=pace.first_token_delay_s,
            fault=mid_stream,
            request_id=call.request_id,
            bill=lambda **generated: self.fake.bill(
                reply.billed(request_id=call.request_id, at=self.fake.now(), stream=True, **generated)
            ),
        )
        return EventStreamResponse(frames, on_client_gone=self.fake.client_gone)

    async def count_tokens(self, call: Call) -> Response:
        params = parse(CountTokensRequest, call.body)
        self.fake.check_model(params.model)
        return JSONResponse({"input_tokens": self.fake.count_tokens(params)})

    async def create_batch(self, call: Call) -> Response:
        config = self.fake.config
        if len(call.raw_body) > config.batch_max_bytes:
            raise invalid_request(
                f"batch too large: {len(call.raw_body)} bytes, the limit is {config.batch_max_bytes}"
            )
        requests = call.body.get("requests") if isinstance(call.body, dict) else None
        if isinstance(requests, list) and len(requests) > config.batch_max_requests:
            raise invalid_request(
                f"requests: {len(requests)} requests, the limit is {config.batch_max_requests}"
            )
        batch = self.fake.create_batch(parse(BatchCreateRequest, call.body).requests)
        return JSONResponse(batch.to_json(_base_url(call.request)))

    async def list_batches(self, call: Call) -> Response:
        query = call.request.query_params
        limit = query.get("limit", "20")
        if not limit.isdigit() or not 1 <= int(limit) <= 1000:
            raise invalid_request("limit: must be a whole number from 1 to 1000")
        page = self.fake.batch_page(
            limit=int(limit), after_id=query.get("after_id"), before_id=query.get("before_id")
        )
        base_url = _base_url(call.request)
        return JSONResponse({**page, "data": [batch.to_json(base_url) for batch in page["data"]]})

    async def retrieve_batch(self, call: Call) -> Response:
        batch = self.fake.batch(call.request.path_params["batch_id"])
        return JSONResponse(batch.to_json(_base_url(call.request)))

    async def cancel_batch(self, call: Call) -> Response:
        batch = self.fake.cancel_batch(call.request.path_params["batch_id"])
        return JSONResponse(batch.to_json(_base_url(call.request)))

    async def delete_batch(self, call: Call) -> Response:
        batch_id = call.request.path_params["batch_id"]
        self.fake.delete_batch(batch_id)
        return JSONResponse({"id": batch_id, "type": "message_batch_deleted"})

    async def batch_results(self, call: Call) -> Response:
        results = self.fake.batch_results(call.request.path_params["batch_id"])
        lines = "".join(json.dumps(result, separators=(",", ":")) + "\n" for result in results)
        return Response(lines, media_type="application/binary")

    async def usage_report(self, call: Call) -> Response:
        """`GET /v1/organizations/usage_report/messages` from the ledger (usage_report.py)."""
        report = reports.usage_report(
            self.fake.ledger(), self._owner(), _query(call.request), self.fake.now()
        )
        return JSONResponse(report)

    async def cost_report(self, call: Call) -> Response:
        """`GET /v1/organizations/cost_report` from the ledger, priced as the kit's data file prices it."""
        report = reports.cost_report(
            self.fake.ledger(),
            self._owner(),
            _query(call.request),
            self.fake.now(),
            reports.default_prices(),
        )
        return JSONResponse(report)

    def _owner(self) -> reports.Attribution:
        config = self.fake.config
        return reports.Attribution(api_key_id=config.api_key_id, workspace_id=config.workspace_id)

    async def inject_faults(self, request: Request) -> Response:
        """`POST /_fake/faults` with a JSON list of fault objects or specs: ["rate_limited:2", {...}]."""
        body = _json(await request.body())
        try:
            if not isinstance(body, list):
                raise FaultSpecError('expected a JSON list of faults, e.g. ["overloaded", "rate_limited:2"]')
            faults = parse_faults(body)
        except FaultSpecError as exc:
            return JSONResponse(error_body("invalid_request_error", str(exc), None), status_code=400)
        self.fake.inject(*faults)
        return JSONResponse({"injected": [fault.model_dump() for fault in faults]})

    async def script_replies(self, request: Request) -> Response:
        """`POST /_fake/replies` with a JSON list of rules (fake_claude/scripted.py); replaces the list."""
        try:
            rules = parse_rules(_json(await request.body()))
        except ScriptError as exc:
            return JSONResponse(error_body("invalid_request_error", str(exc), None), status_code=400)
        self.fake.configure(scripted_replies=rules)
        return JSONResponse({"scripted": len(rules)})

    async def ledger(self, _request: Request) -> Response:
        """`GET /_fake/ledger`: every call the fake billed, and the totals (local/fake_claude/ledger.py)."""
        entries = self.fake.ledger()
        totals = self.fake.billed_totals()
        return JSONResponse({"data": [entry.to_json() for entry in entries], "totals": totals.to_json()})

    async def reset(self, _request: Request) -> Response:
        self.fake.reset()
        return Response(status_code=204)


def _query(request: Request) -> dict[str, list[str]]:
    """Every value of every query parameter (`group_by[]=model&group_by[]=api_key_id`)."""
    values: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        values.setdefault(name, []).append(value)
    return values


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _fault_error(fault: RateLimited | Overloaded | ApiFailure) -> ApiError:
    headers = {"x-should-retry": "true"}
    match fault:
        case RateLimited(retry_after=seconds):
            headers["retry-after"] = f"{seconds:g}"
            return ApiError(
                429,
                "rate_limit_error",
                "Number of requests has exceeded your rate limit (fake).",
                headers=headers,
            )
        case Overloaded():
            return ApiError(529, "overloaded_error", "Overloaded", headers=headers)
        case ApiFailure():
            return ApiError(500, "api_error", "Internal server error (fake)", headers=headers)


async def _client_leaves_within(request: Request, seconds: float) -> bool:
    """Wait up to `seconds` for the client to hang up; True if it did."""
    with anyio.move_on_after(seconds):
        while (await request.receive())["type"] != "http.disconnect":
            pass
        return True
    return False


def _sse(event: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _frames(
    reply: Reply,
    *,
    tokens_per_second: float | None,
    first_token_delay_s: float,
    fault: CutStream | StreamError | Stall | None,
    request_id: str,
    bill: Callable[..., None],
) -> AsyncGenerator[bytes | None]:
    """The SSE frames of `reply`, paced, with a mid-stream fault applied; None means: drop the connection.

    Billed once it ends, however it ends, for what it generated (see `ledger`) if `message_start` went out.
    """
    first_delta = True
    generated = {"thinking": 0, "text": 0}
    started = False
    outcome: Outcome = "client_gone"
    try:
        for sent, (event, data) in enumerate(reply.events()):
            if fault is not None and sent == fault.after_events:
                match fault:
                    case CutStream():
                        outcome = "cut"
                        yield None
                        return
                    case StreamError(error_type=error_type):
                        outcome = "error_event"
                        message = "Overloaded" if error_type == "overloaded_error" else f"fake {error_type}"
                        yield _sse("error", error_body(error_type, message, request_id))
                        return
                    case Stall(seconds=seconds):
                        await anyio.sleep(seconds)
            if event == "content_block_delta":
                if first_delta:
                    delay, first_delta = first_token_delay_s, False
                else:
                    delay = 1 / tokens_per_second if tokens_per_second else 0.0
                if delay:
                    await anyio.sleep(delay)
            if (kind := is_token_delta(data)) is not None:
                generated[kind] += 1
            started = True
            yield _sse(event, data)
        outcome = "complete"
    finally:
        if started:
            if outcome == "complete":
                bill(outcome=outcome)
            else:
                bill(outcome=outcome, thinking_tokens=generated["thinking"], text_tokens=generated["text"])


class EventStreamResponse(Response):
    """Server-sent events that can be cut mid-way (a None frame) and that report a client leaving early."""

    media_type = "text/event-stream"

    def __init__(self, frames: AsyncGenerator[bytes | None], *, on_client_gone: Callable[[], None]) -> None:
        # Like StreamingResponse: no body, so no content-length.
        self.status_code = 200
        self.background = None
        self.init_headers({"cache-control": "no-cache"})
        self._frames = frames
        self._on_client_gone = on_client_gone
        self._over = False

    async def __call__(self, _scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async with anyio.create_task_group() as group, aclosing(self._frames) as frames:
            group.start_soon(self._watch_client, receive, group.cancel_scope.cancel)
            try:
                async for frame in frames:
                    if frame is None:
                        break  # a cut: no final body message, so the server drops the connection
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
                else:
                    self._over = True
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:  # ASGI 2.4 servers raise on sending to a client that has gone
                self._client_left()
            self._over = True
            group.cancel_scope.cancel()

    async def _watch_client(self, receive: Receive, stop_streaming: Callable[[], None]) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._client_left()
        stop_streaming()

    def _client_left(self) -> None:
        if not self._over:
            self._over = True
            self._on_client_gone()
