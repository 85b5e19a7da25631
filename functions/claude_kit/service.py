"""Every Claude call the kit makes goes through `ClaudeService`, which applies the rules in one place.

Per call: the kit's rules (allowed model, max_tokens cap, context window) → its worst-case cost held by a
`Reservation` (spend switch, user quota) → prompt-cache breakpoints → the retry policy → one attempt on the
fallback model if the primary stays overloaded → one telemetry record with every billed attempt → the
reservation settled with that, exactly once.

`prepare` does everything up to the reservation and can be called by a caller that must refuse before it
commits to anything (the chat stores nothing for a refused call); `stream_prepared` / `create_prepared` then
own the reservation. `stream` and `create` do both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import anyio
from anyio.to_thread import run_sync

from claude_kit.billing import CallBill
from claude_kit.call_rules import apply_rules
from claude_kit.calls import CallContext, ClaudeRequest, ClaudeResult, StreamEnd, TextDelta, Usage
from claude_kit.clients import ClaudeClients, get_clients
from claude_kit.context_window import SystemPrompt, TokenCounter, estimate_tokens
from claude_kit.errors import ClaudeStreamInterruptedError
from claude_kit.observability import logger, tracer
from claude_kit.pricing import PriceTable, load_price_table
from claude_kit.prompt_cache import add_cache_breakpoints
from claude_kit.recording import Call, PreparedCall, Recorder
from claude_kit.reservation import SpendGate, get_spend_gate
from claude_kit.retry import (
    Attempts,
    Failure,
    IncompleteStreamError,
    RetryPolicy,
    classify,
    error_type_of,
    is_ambiguous,
    to_claude_error,
)
from claude_kit.settings import RuntimeSettings, get_settings
from claude_kit.sse import StreamEvent, event_batches
from claude_kit.stream_state import StreamState
from claude_kit.telemetry import CLIENT_DISCONNECTED, CallRecord, record_call
from claude_kit.worst_case import worst_case_attempt

if TYPE_CHECKING:
    from anthropic import AsyncStream
    from anthropic.types import RawMessageStreamEvent

    from claude_kit.transaction import Transaction

# The pass-through parameters the count_tokens endpoint accepts (it refuses temperature, max_tokens …).
_COUNT_TOKENS_PARAMS = ("tools", "tool_choice", "thinking")
#: The SDK's estimate of generation time (anthropic/_base_client.py: one hour per 128,000 output tokens).
_SECONDS_PER_OUTPUT_TOKEN = 3600 / 128_000


class ClaudeService:
    def __init__(
        self,
        *,
        clients: ClaudeClients,
        settings: RuntimeSettings,
        gate: SpendGate | None = None,
        retry_policy: RetryPolicy | None = None,
        prices: PriceTable | None = None,
        clock: Callable[[], float] = time.perf_counter,
        emit: Callable[[CallRecord], None] = record_call,
    ) -> None:
        self._clients = clients
        self._settings = settings
        self._gate = gate or SpendGate()
        self._policy = retry_policy or RetryPolicy.from_settings(settings)
        self._prices = prices or load_price_table(settings.price_overrides)
        self._clock = clock
        self._recorder = Recorder(environment=settings.env_name, prices=self._prices, emit=emit, clock=clock)

    async def aclose(self) -> None:
        """Release the streaming connections before their event loop ends (see `ClaudeClients.aclose`)."""
        await self._clients.aclose()

    # -- before a call ---------------------------------------------------------------------------------------

    def prepare(
        self, request: ClaudeRequest, ctx: CallContext, *, transaction: Transaction | None = None
    ) -> PreparedCall:
        """Apply the rules and hold the call's worst case; raises (400, 429, 503) before anything is held.
        With `transaction` the hold is one of its parts, held once the caller commits it."""
        capped, window = apply_rules(request, self._settings, self._token_counter(request))
        models = [request.model, *([self._settings.fallback_model] if self._settings.fallback_model else [])]
        worst = worst_case_attempt(
            capped, models=models, prices=self._prices, caching=self._settings.prompt_caching
        )
        return PreparedCall(capped, ctx, window, self._gate.reserve(ctx, worst, transaction=transaction))

    # -- whole messages --------------------------------------------------------------------------------------

    def create(self, request: ClaudeRequest, ctx: CallContext) -> ClaudeResult:
        return self.create_prepared(self.prepare(request, ctx))

    @tracer.capture_method(capture_response=False)
    def create_prepared(self, prepared: PreparedCall) -> ClaudeResult:
        with prepared.reservation:  # released on the way out unless the record settled it
            call = self._start(prepared, deadline_seconds=None)
            try:
                try:
                    raw = self._policy.retrying(call.attempts)(self._send, call)
                except Exception as exc:
                    if not self._switch_to_fallback(call, exc):
                        raise
                    raw = self._send(call)
            except Exception as exc:
                if (error := self._recorder.failed(call, exc)) is None:
                    raise
                raise error from exc
            call.attempts.headers = raw.headers
            message = raw.parse()
            record = self._recorder.record(
                call,
                message_id=message.id,
                stop_reason=message.stop_reason,
                api_request_id=raw.headers.get("request-id"),
            )
            return self._recorder.result(call, record, content=[block.to_dict() for block in message.content])

    def _send(self, call: Call) -> Any:
        """The raw response (for its rate-limit headers) of one non-streaming attempt, billed."""
        try:
            raw = self._clients.sync_client().messages.with_raw_response.create(
                **self._body(call), timeout=self._whole_message_timeout(call)
            )
        except Exception as exc:
            if is_ambiguous(exc):
                call.bill.ambiguous(exc)
            raise
        call.bill.billed(call.model, Usage.from_api(raw.parse().usage))
        return raw

    def _whole_message_timeout(self, call: Call) -> Any:
        """No byte of a whole message arrives before its last token: wait as long as `max_tokens` can take
        (the SDK's own estimate), never less than the read timeout, never past the caller's deadline."""
        import httpx2  # loaded with the SDK already

        read = max(self._settings.read_timeout_seconds, _SECONDS_PER_OUTPUT_TOKEN * call.request.max_tokens)
        if (remaining_ms := call.ctx.remaining_time_ms) is not None:
            read = max(min(read, remaining_ms() / 1000), 1.0)
        return httpx2.Timeout(read, connect=self._settings.connect_timeout_seconds)

    # -- streams ---------------------------------------------------------------------------------------------

    async def stream(self, request: ClaudeRequest, ctx: CallContext) -> AsyncGenerator[TextDelta | StreamEnd]:
        """`prepare` then `stream_prepared`; a refusal is raised on the first iteration."""
        prepared = await self._prepare_in_thread(request, ctx)
        try:
            async with aclosing(self.stream_prepared(prepared)) as events:
                async for event in events:
                    yield event
        finally:
            if not prepared.reservation.finished:
                with anyio.CancelScope(shield=True):
                    await run_sync(prepared.reservation.release)

    async def _prepare_in_thread(self, request: ClaudeRequest, ctx: CallContext) -> PreparedCall:
        """`prepare` off the event loop. A caller cancelled meanwhile leaves nothing held: whichever of the
        thread and the caller comes second gives the hold back."""
        handoff = _Handoff()

        def take() -> PreparedCall:
            prepared = self.prepare(request, ctx)
            if not handoff.deliver(prepared):
                prepared.reservation.release()
            return prepared

        try:
            return await run_sync(take, abandon_on_cancel=True)
        except BaseException:
            if (orphan := handoff.abandon()) is not None:
                orphan.reservation.release()
            raise

    async def stream_prepared(self, prepared: PreparedCall) -> AsyncGenerator[TextDelta | StreamEnd]:
        """Text as it comes, then one `StreamEnd`.

        Retries happen only before the first text, and never wait past the first-token deadline; a failure
        after it raises `ClaudeStreamInterruptedError` carrying the partial result. Closing the generator
        early closes the upstream stream and records what was used as `client_disconnected`: consume it
        inside `contextlib.aclosing`. If it is never iterated, the caller releases `prepared.reservation`.
        """
        with prepared.reservation:
            call = self._start(prepared, deadline_seconds=self._settings.first_token_deadline_seconds)
            try:
                try:
                    opened: _OpenStream = await self._policy.async_retrying(call.attempts)(
                        self._open_stream, call
                    )
                except Exception as exc:
                    if not await run_sync(self._switch_to_fallback, call, exc):  # may top the hold up
                        raise
                    opened = await self._open_stream(call)
            except Exception as exc:
                if (error := await run_sync(self._recorder.failed, call, exc)) is None:
                    raise
                raise error from exc
            except BaseException:  # cancelled while waiting for the first text: the client went away
                with anyio.CancelScope(shield=True):
                    await run_sync(
                        lambda: self._recorder.record(call, error_type=CLIENT_DISCONNECTED, streamed=True)
                    )
                raise
            async with aclosing(self._relay(call, opened)) as relay:
                async for event in relay:
                    yield event

    async def _relay(self, call: Call, opened: _OpenStream) -> AsyncGenerator[TextDelta | StreamEnd]:
        state = opened.state
        failure: Exception | None = None
        try:
            if opened.first_texts:
                state.handed_on(self._recorder.elapsed_ms(call))
                yield TextDelta(opened.first_texts)
            async for batch in opened.batches:
                # What arrived in one read goes on as one batch: per event, only the fold.
                texts = [text for event in batch if (text := state.apply(event)) is not None]
                if texts:
                    state.handed_on(self._recorder.elapsed_ms(call))
                    yield TextDelta(texts)
            if not state.complete:
                raise IncompleteStreamError("the stream ended before message_stop")
        except Exception as exc:
            failure = exc
        finally:
            # Shielded: when the client went away the task is being cancelled, and cleanup must still run.
            with anyio.CancelScope(shield=True):
                await opened.stream.close()
                if failure is None and not state.complete:
                    await run_sync(self._record_stream, call, opened, CLIENT_DISCONNECTED)
        if failure is not None:
            record = await run_sync(self._record_stream, call, opened, error_type_of(failure), failure)
            error = ClaudeStreamInterruptedError(
                f"{type(failure).__name__}: {failure}",
                error_type=record.error_type,
                partial=self._recorder.result(
                    call, record, content=state.blocks, ttft_ms=state.ttft_ms, partial=True
                ),
                request_id=record.api_request_id,
            )
            raise error from failure
        record = await run_sync(self._record_stream, call, opened, None)
        yield StreamEnd(self._recorder.result(call, record, content=state.blocks, ttft_ms=state.ttft_ms))

    async def _open_stream(self, call: Call) -> _OpenStream:
        """One streaming attempt, read up to its first text: until then a failure may be retried.

        The SDK sends the request and raises for an error status; the events are read as JSON, a network
        read at a time (`claude_kit.sse`). An attempt that fails after `message_start` was billed (its
        input, and any thinking): counted here."""
        state = StreamState()
        try:
            stream: AsyncStream[RawMessageStreamEvent] = await self._clients.async_client().messages.create(
                **self._body(call), stream=True
            )
        except Exception as exc:
            if is_ambiguous(exc):
                call.bill.ambiguous(exc)
            raise
        call.attempts.headers = stream.response.headers
        batches = aiter(event_batches(stream.response))
        try:
            async for batch in batches:
                texts = [text for event in batch if (text := state.apply(event)) is not None]
                if texts:
                    return _OpenStream(stream, batches, state, first_texts=texts)
            if not state.complete:
                raise IncompleteStreamError("the stream ended before message_stop")
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await stream.close()
            if state.started:
                call.bill.billed(call.model, state.usage(), output_estimated=state.output_estimated)
            elif isinstance(exc, Exception) and is_ambiguous(exc):
                call.bill.ambiguous(exc)
            raise
        return _OpenStream(stream, batches, state, first_texts=[])

    # -- tokens ----------------------------------------------------------------------------------------------

    @tracer.capture_method(capture_response=False)
    def count_tokens(self, request: ClaudeRequest) -> int:
        return self._count_tokens(request.model, request.system, request.messages, request.params)

    def _token_counter(self, request: ClaudeRequest) -> TokenCounter:
        if self._settings.context_counter == "estimate":
            return estimate_tokens
        return lambda system, messages: self._count_tokens(
            request.model, system, list(messages), request.params
        )

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

    # -- shared steps ----------------------------------------------------------------------------------------

    def _start(self, prepared: PreparedCall, *, deadline_seconds: float | None) -> Call:
        started = self._clock()
        remaining_ms = prepared.ctx.remaining_time_ms

        def remaining_seconds() -> float:
            limits = [remaining_ms() / 1000] if remaining_ms is not None else []
            if deadline_seconds is not None:
                limits.append(deadline_seconds - (self._clock() - started))
            return min(limits)

        bill, reservation = CallBill(), prepared.reservation
        attempts = Attempts(
            self._policy,
            remaining_seconds=(
                remaining_seconds if remaining_ms is not None or deadline_seconds is not None else None
            ),
            on_authentication_failure=self._clients.refresh_api_key,
            # Only the attempt knows whether its failure left its usage unknown (a stream that had started
            # reports its usage; the same transport error before `message_start` may hide a bill).
            is_ambiguous=bill.was_ambiguous,
            # Another attempt may bill again: only while the hold covers it on top of what was billed.
            may_retry=lambda: reservation.cover(
                bill.charge(self._prices, reservation.worst_attempt) + reservation.worst_attempt
            ),
        )
        return Call(prepared, attempts, started=started, model=prepared.request.model, bill=bill)

    def _body(self, call: Call) -> dict[str, Any]:
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

    def _switch_to_fallback(self, call: Call, exc: Exception) -> bool:
        """After the primary model stayed overloaded through its retry: one attempt on the fallback model."""
        fallback = self._settings.fallback_model
        if fallback is None or fallback == call.model or classify(exc) is not Failure.BUSY:
            return False
        if not call.attempts.may_retry():
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

    # -- after a call ---------------------------------------------------------------------------------------

    def _record_stream(
        self, call: Call, opened: _OpenStream, error_type: str | None, failure: Exception | None = None
    ) -> CallRecord:
        state = opened.state
        call.bill.billed(call.model, state.usage(), output_estimated=state.output_estimated)
        return self._recorder.record(
            call,
            message_id=state.message_id,
            stop_reason=state.stop_reason,
            ttft_ms=state.ttft_ms,
            error_type=error_type,
            error_detail=None if failure is None else f"{type(failure).__name__}: {failure}",
            api_request_id=opened.stream.response.headers.get("request-id"),
            streamed=True,
        )


class _Handoff:
    """A prepared call passed from a worker thread to a caller that may have stopped waiting for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._prepared: PreparedCall | None = None

    def deliver(self, prepared: PreparedCall) -> bool:
        """False when the caller is gone: the thread then gives the hold back itself."""
        with self._lock:
            self._prepared = prepared
            return not self._abandoned

    def abandon(self) -> PreparedCall | None:
        """The call the thread delivered before the caller left, if any (the caller then gives it back)."""
        with self._lock:
            self._abandoned = True
            return self._prepared


@dataclass(slots=True)
class _OpenStream:
    stream: AsyncStream[RawMessageStreamEvent]
    batches: AsyncIterator[list[StreamEvent]]
    state: StreamState
    #: The text of the read that brought the first text (retries end there).
    first_texts: list[str]


@cache
def get_claude_service() -> ClaudeService:
    """The container's service, built on first use from settings, with the brakes they turn on (spend
    switch, user quotas: claude_kit.reservation.get_spend_gate)."""
    return ClaudeService(clients=get_clients(), settings=get_settings(), gate=get_spend_gate())
