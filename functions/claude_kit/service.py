"""Every Claude call the kit makes goes through `ClaudeService`, which applies the rules in one place.

Per call: allowed model and max_tokens cap → context window → guards (spend switch, quotas) → prompt-cache
breakpoints → the retry policy → one attempt on the fallback model if the primary stays overloaded → one
telemetry record (success or failure) → guards settle the cost.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import anyio

from claude_kit.calls import CallContext, ClaudeRequest, ClaudeResult, StreamEnd, TextDelta, Usage
from claude_kit.clients import ClaudeClients, get_clients
from claude_kit.context_window import (
    SystemPrompt,
    TokenCounter,
    Window,
    estimate_text_tokens,
    estimate_tokens,
    fit_context,
)
from claude_kit.errors import ClaudeBadRequestError, ClaudeError, ClaudeStreamInterruptedError
from claude_kit.guardrails import CallGuard, get_call_guards, release_all
from claude_kit.observability import logger, tracer
from claude_kit.pricing import PriceTable, estimate_cost, load_price_table
from claude_kit.prompt_cache import add_cache_breakpoints
from claude_kit.retry import (
    Attempts,
    Failure,
    IncompleteStreamError,
    RetryPolicy,
    classify,
    error_type_of,
    to_claude_error,
)
from claude_kit.settings import RuntimeSettings, get_settings
from claude_kit.telemetry import CLIENT_DISCONNECTED, CallRecord, ratelimit_headroom, record_call

if TYPE_CHECKING:
    from anthropic import AsyncStream
    from anthropic.types import RawMessageStreamEvent

# The pass-through parameters the count_tokens endpoint accepts (it refuses temperature, max_tokens …).
_COUNT_TOKENS_PARAMS = ("tools", "tool_choice", "thinking")
# What the kit decides itself: `params` must not override them (an allowed model, the max_tokens cap …).
_RESERVED_PARAMS = frozenset({"model", "max_tokens", "messages", "system", "stream"})
#: The SDK's estimate of generation time (anthropic/_base_client.py: one hour per 128,000 output tokens).
_SECONDS_PER_OUTPUT_TOKEN = 3600 / 128_000


@dataclass(slots=True)
class _Call:
    """One service call: the request after the kit's rules, and what happened to it so far."""

    request: ClaudeRequest
    ctx: CallContext
    window: Window
    attempts: Attempts
    started: float
    model: str
    fallback_used: bool = False
    #: The latest streaming attempt, read up to its first text: what it used is billed even if it fails.
    opening: _StreamState | None = None

    def usage_so_far(self) -> Usage:
        return self.opening.usage() if self.opening is not None else Usage()


class ClaudeService:
    def __init__(
        self,
        *,
        clients: ClaudeClients,
        settings: RuntimeSettings,
        guards: Sequence[CallGuard] = (),
        retry_policy: RetryPolicy | None = None,
        prices: PriceTable | None = None,
        clock: Callable[[], float] = time.perf_counter,
        emit: Callable[[CallRecord], None] = record_call,
    ) -> None:
        self._clients = clients
        self._settings = settings
        self._guards = tuple(guards)
        self._policy = retry_policy or RetryPolicy.from_settings(settings)
        self._prices = prices or load_price_table(settings.price_overrides)
        self._clock = clock
        self._emit = emit

    async def aclose(self) -> None:
        """Release the streaming connections before their event loop ends (see `ClaudeClients.aclose`)."""
        await self._clients.aclose()

    @tracer.capture_method(capture_response=False)
    def create(self, request: ClaudeRequest, ctx: CallContext) -> ClaudeResult:
        call = self._begin(request, ctx)
        try:
            try:
                raw = self._policy.retrying(call.attempts)(self._send, call)
            except Exception as exc:
                if not self._switch_to_fallback(call, exc):
                    raise
                raw = self._send(call)
        except Exception as exc:
            if (error := self._failed(call, exc)) is None:
                raise
            raise error from exc
        call.attempts.headers = raw.headers
        message = raw.parse()
        usage = Usage.from_api(message.usage)
        record = self._record(
            call,
            usage=usage,
            message_id=message.id,
            stop_reason=message.stop_reason,
            api_request_id=raw.headers.get("request-id"),
        )
        content = [block.to_dict() for block in message.content]
        return self._result(call, record, content=content)

    async def stream(self, request: ClaudeRequest, ctx: CallContext) -> AsyncGenerator[TextDelta | StreamEnd]:
        """Text as it comes, then one `StreamEnd`.

        Retries happen only before the first text; a failure after it raises `ClaudeStreamInterruptedError`
        carrying the partial result. Closing the generator early closes the upstream stream and records what
        was used as `client_disconnected`: consume it inside `contextlib.aclosing`, so that a cancelled
        consumer closes it at once rather than whenever the garbage collector finalizes it.
        """
        try:
            call = await asyncio.to_thread(self._begin, request, ctx)
        except BaseException:  # refused, invalid, or cancelled while a guard may have reserved for it
            with anyio.CancelScope(shield=True):
                await asyncio.to_thread(release_all, self._guards, ctx)
            raise
        try:
            try:
                opened: _OpenStream = await self._policy.async_retrying(call.attempts)(
                    self._open_stream, call
                )
            except Exception as exc:
                if not self._switch_to_fallback(call, exc):
                    raise
                opened = await self._open_stream(call)
        except Exception as exc:
            if (error := await asyncio.to_thread(self._failed, call, exc)) is None:
                raise
            raise error from exc
        except BaseException:  # cancelled while waiting for the first text: the client went away
            with anyio.CancelScope(shield=True):
                await asyncio.to_thread(
                    self._record, call, usage=call.usage_so_far(), error_type=CLIENT_DISCONNECTED
                )
            raise

        state = opened.state
        failure: Exception | None = None
        try:
            text = opened.first_text
            if text is not None:
                state.handed_on(self._elapsed_ms(call))
                yield TextDelta(text)
            async for event in opened.events:
                if (text := state.apply(event)) is not None:
                    state.handed_on(self._elapsed_ms(call))
                    yield TextDelta(text)
            if not state.complete:
                raise IncompleteStreamError("the stream ended before message_stop")
        except Exception as exc:
            failure = exc
        finally:
            # Shielded: when the client went away the task is being cancelled, and cleanup must still run.
            with anyio.CancelScope(shield=True):
                await opened.stream.close()
                if failure is None and not state.complete:
                    await asyncio.to_thread(self._record_stream, call, opened, CLIENT_DISCONNECTED)
        if failure is not None:
            record = await asyncio.to_thread(
                self._record_stream, call, opened, error_type_of(failure), failure
            )
            error = ClaudeStreamInterruptedError(
                f"{type(failure).__name__}: {failure}",
                error_type=record.error_type,
                partial=self._result(call, record, content=state.blocks, ttft_ms=state.ttft_ms, partial=True),
                request_id=record.api_request_id,
            )
            raise error from failure
        record = await asyncio.to_thread(self._record_stream, call, opened, None)
        yield StreamEnd(self._result(call, record, content=state.blocks, ttft_ms=state.ttft_ms))

    @tracer.capture_method(capture_response=False)
    def count_tokens(self, request: ClaudeRequest) -> int:
        return self._count_tokens(request.model, request.system, request.messages, request.params)

    # -- rules applied before a call -------------------------------------------------------------------------

    def _begin(self, request: ClaudeRequest, ctx: CallContext) -> _Call:
        if request.model not in self._settings.allowed_models:
            raise ClaudeBadRequestError(f"model {request.model!r} is not in KIT_ALLOWED_MODELS")
        if reserved := sorted(_RESERVED_PARAMS.intersection(request.params)):
            raise ClaudeBadRequestError(f"params may not set {reserved}: they are ClaudeRequest fields")
        window = fit_context(
            request.system,
            request.messages,
            self._settings.context_max_turns,
            self._settings.context_max_tokens,
            counter=self._token_counter(request),
        )
        capped = ClaudeRequest(
            model=request.model,
            max_tokens=min(request.max_tokens, self._settings.max_tokens_cap),
            messages=window.messages,
            system=window.system,
            params=request.params,
        )
        remaining = ctx.remaining_time_ms
        attempts = Attempts(
            self._policy,
            remaining_seconds=None if remaining is None else lambda: remaining() / 1000,
            on_authentication_failure=self._clients.refresh_api_key,
        )
        # Last: a guard that reserves part of a quota is settled by the call's record, so nothing that can
        # fail without a record may run between the check and the call.
        for guard in self._guards:
            guard.check(ctx)
        return _Call(capped, ctx, window, attempts, started=self._clock(), model=request.model)

    def _token_counter(self, request: ClaudeRequest) -> TokenCounter:
        if self._settings.context_counter == "estimate":
            return estimate_tokens
        return lambda system, messages: self._count_tokens(
            request.model, system, list(messages), request.params
        )

    def _body(self, call: _Call) -> dict[str, Any]:
        """SDK keyword arguments for the model being tried (cache minimums differ per model)."""
        request = call.request
        system, messages = request.system, request.messages
        if self._settings.prompt_caching:
            plan = add_cache_breakpoints(
                system,
                messages,
                min_cacheable_tokens=self._prices.min_cacheable_tokens(call.model),
                tools=request.params.get("tools"),
            )
            system, messages = plan.system, plan.messages
        body: dict[str, Any] = {"model": call.model, "max_tokens": request.max_tokens, "messages": messages}
        if system:
            body["system"] = system
        if request.params:
            # extra_body: the SDK has no keyword for temperature/top_p/top_k; the rest pass through unchanged.
            body["extra_body"] = request.params
        return body

    def _switch_to_fallback(self, call: _Call, exc: Exception) -> bool:
        """After the primary model stayed overloaded through its retry: one attempt on the fallback model."""
        fallback = self._settings.fallback_model
        if fallback is None or fallback == call.model or classify(exc) is not Failure.BUSY:
            return False
        logger.warning(
            "Claude model overloaded: one attempt on the fallback model",
            extra={
                "model": call.model,
                "fallback_model": fallback,
                "api_request_id": getattr(exc, "request_id", None),
            },
        )
        call.model, call.fallback_used = fallback, True
        return True

    # -- one attempt ---------------------------------------------------------------------------------------

    def _send(self, call: _Call) -> Any:
        """The raw response (for its rate-limit headers) of one non-streaming attempt."""
        return self._clients.sync_client().messages.with_raw_response.create(
            **self._body(call), timeout=self._whole_message_timeout(call)
        )

    def _whole_message_timeout(self, call: _Call) -> Any:
        """No byte of a whole message arrives before its last token: wait as long as `max_tokens` can take
        (the SDK's own estimate), never less than the read timeout, never past the caller's deadline."""
        import httpx2  # loaded with the SDK already

        read = max(self._settings.read_timeout_seconds, _SECONDS_PER_OUTPUT_TOKEN * call.request.max_tokens)
        if (remaining_ms := call.ctx.remaining_time_ms) is not None:
            read = max(min(read, remaining_ms() / 1000), 1.0)
        return httpx2.Timeout(read, connect=self._settings.connect_timeout_seconds)

    async def _open_stream(self, call: _Call) -> _OpenStream:
        """One streaming attempt, read up to its first text: until then a failure may be retried."""
        stream: AsyncStream[RawMessageStreamEvent] = await self._clients.async_client().messages.create(
            **self._body(call), stream=True
        )
        call.attempts.headers = stream.response.headers
        state = call.opening = _StreamState()
        events = aiter(stream)
        try:
            async for event in events:
                if (text := state.apply(event)) is not None:
                    return _OpenStream(stream, events, state, first_text=text)
            if not state.complete:
                raise IncompleteStreamError("the stream ended before message_stop")
        except BaseException:
            await stream.close()
            raise
        return _OpenStream(stream, events, state, first_text=None)

    def _count_tokens(
        self, model: str, system: SystemPrompt, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> int:
        body: dict[str, Any] = {"model": model, "messages": messages}
        if system:
            body["system"] = system
        if extra := {name: params[name] for name in _COUNT_TOKENS_PARAMS if name in params}:
            body["extra_body"] = extra
        attempts = Attempts(self._policy, on_authentication_failure=self._clients.refresh_api_key)

        def count() -> int:
            return self._clients.sync_client().messages.count_tokens(**body).input_tokens

        try:
            return self._policy.retrying(attempts)(count)
        except Exception as exc:
            error = to_claude_error(exc)
            if error is None:
                raise
            raise error from exc

    # -- after a call ---------------------------------------------------------------------------------------

    def _failed(self, call: _Call, exc: Exception) -> ClaudeError | None:
        """Record a call that produced no text; the typed error to raise instead of an SDK one (else None).

        A stream that failed after `message_start` was already billed for its input: that usage is kept."""
        error = to_claude_error(exc)
        self._record(
            call,
            usage=call.usage_so_far(),
            error_type=error_type_of(exc),
            error_detail=str(error or exc),
            api_request_id=getattr(exc, "request_id", None),
        )
        return error

    def _record_stream(
        self, call: _Call, opened: _OpenStream, error_type: str | None, failure: Exception | None = None
    ) -> CallRecord:
        state = opened.state
        return self._record(
            call,
            usage=state.usage(),
            message_id=state.message_id,
            stop_reason=state.stop_reason,
            ttft_ms=state.ttft_ms,
            error_type=error_type,
            error_detail=None if failure is None else f"{type(failure).__name__}: {failure}",
            api_request_id=opened.stream.response.headers.get("request-id"),
            streamed=True,
        )

    def _record(
        self,
        call: _Call,
        *,
        usage: Usage,
        message_id: str | None = None,
        stop_reason: str | None = None,
        ttft_ms: float | None = None,
        error_type: str | None = None,
        error_detail: str | None = None,
        api_request_id: str | None = None,
        streamed: bool = False,
    ) -> CallRecord:
        requests_remaining, tokens_remaining = ratelimit_headroom(call.attempts.headers)
        ctx, window = call.ctx, call.window
        record = CallRecord(
            environment=self._settings.env_name,
            route=ctx.route,
            model=call.model,
            requested_model=call.request.model,
            usage=usage,
            latency_ms=self._elapsed_ms(call),
            fallback_used=call.fallback_used,
            ttft_ms=ttft_ms,
            stop_reason=stop_reason,
            retries=call.attempts.retries,
            throttles=call.attempts.throttles,
            error_type=error_type,
            error_detail=error_detail,
            cost_usd=estimate_cost(call.model, usage, table=self._prices),
            user_id=ctx.user_id,
            request_id=ctx.request_id,
            api_request_id=api_request_id,
            message_id=message_id,
            context_dropped_turns=window.dropped_turns,
            context_dropped_tokens=window.dropped_tokens,
            ratelimit_requests_remaining=requests_remaining,
            ratelimit_tokens_remaining=tokens_remaining,
            streamed=streamed,
        )
        self._emit(record)
        for guard in self._guards:
            try:
                guard.settle(ctx, record)
            except Exception:  # the call already happened: a guard's bookkeeping failure must not undo it
                logger.exception(
                    "Guard could not settle a Claude call", extra={"guard": type(guard).__name__}
                )
        return record

    def _result(
        self,
        call: _Call,
        record: CallRecord,
        *,
        content: list[dict[str, Any]],
        ttft_ms: float | None = None,
        partial: bool = False,
    ) -> ClaudeResult:
        return ClaudeResult(
            message_id=record.message_id,
            model=call.model,
            text="".join(block["text"] for block in content if block.get("type") == "text"),
            content=content,
            stop_reason=record.stop_reason,
            usage=record.usage,
            cost_usd=record.cost_usd,
            latency_ms=record.latency_ms,
            ttft_ms=ttft_ms,
            retries=record.retries,
            fallback_used=call.fallback_used,
            request_id=record.api_request_id,
            partial=partial,
        )

    def _elapsed_ms(self, call: _Call) -> float:
        return (self._clock() - call.started) * 1000


@dataclass(slots=True)
class _OpenStream:
    stream: AsyncStream[RawMessageStreamEvent]
    events: AsyncIterator[RawMessageStreamEvent]
    state: _StreamState
    first_text: str | None


@dataclass(slots=True)
class _StreamState:
    """The message assembled from raw stream events (the SDK's accumulator is private to `.stream()`)."""

    message_id: str | None = None
    stop_reason: str | None = None
    complete: bool = False
    ttft_ms: float | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    _usage: Usage = field(default_factory=Usage)
    _output_reported: bool = False
    _tool_json: dict[int, list[str]] = field(default_factory=dict)

    def apply(self, event: RawMessageStreamEvent) -> str | None:
        """Fold one event in; returns the text it carries, if any."""
        match event.type:
            case "message_start":
                self.message_id = event.message.id
                self._usage = Usage.from_api(event.message.usage)
            case "content_block_start":
                self.blocks.append(event.content_block.to_dict())
            case "content_block_delta":
                return self._apply_delta(event.index, event.delta)
            case "content_block_stop":
                if (parts := self._tool_json.pop(event.index, None)) is not None:
                    self.blocks[event.index]["input"] = json.loads("".join(parts) or "{}")
            case "message_delta":
                self.stop_reason = event.delta.stop_reason
                self._output_reported = True
                # Counts on message_delta are cumulative; absent ones keep their message_start value.
                reported = event.usage
                self._usage = Usage(
                    input_tokens=_first(reported.input_tokens, self._usage.input_tokens),
                    output_tokens=reported.output_tokens,
                    cache_creation_input_tokens=_first(
                        reported.cache_creation_input_tokens, self._usage.cache_creation_input_tokens
                    ),
                    cache_read_input_tokens=_first(
                        reported.cache_read_input_tokens, self._usage.cache_read_input_tokens
                    ),
                    cache_creation_1h_input_tokens=self._usage.cache_creation_1h_input_tokens,
                )
            case "message_stop":
                self.complete = True
        return None

    def _apply_delta(self, index: int, delta: Any) -> str | None:
        block = self.blocks[index]
        match delta.type:
            case "text_delta":
                block["text"] = block.get("text", "") + delta.text
                return str(delta.text)
            case "input_json_delta":
                self._tool_json.setdefault(index, []).append(delta.partial_json)
            case "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta.thinking
            case "signature_delta":
                block["signature"] = delta.signature
            case "citations_delta":
                block.setdefault("citations", []).append(delta.citation.to_dict())
        return None

    def handed_on(self, elapsed_ms: float) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = elapsed_ms

    def usage(self) -> Usage:
        """Reported usage; a stream cut before message_delta bills the text generated so far, estimated."""
        if self._output_reported:
            return self._usage
        generated = sum(estimate_text_tokens(block.get("text", "")) for block in self.blocks)
        return Usage(
            input_tokens=self._usage.input_tokens,
            output_tokens=max(self._usage.output_tokens, generated),
            cache_creation_input_tokens=self._usage.cache_creation_input_tokens,
            cache_read_input_tokens=self._usage.cache_read_input_tokens,
            cache_creation_1h_input_tokens=self._usage.cache_creation_1h_input_tokens,
        )


def _first(value: int | None, default: int) -> int:
    return default if value is None else value


@cache
def get_claude_service() -> ClaudeService:
    """The container's service, built on first use from settings, with the guards they turn on (spend switch,
    user quotas: claude_kit.guardrails.get_call_guards)."""
    settings = get_settings()
    return ClaudeService(clients=get_clients(), settings=settings, guards=get_call_guards())
