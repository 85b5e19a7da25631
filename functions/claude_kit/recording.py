"""A Claude call in progress, and its one record: emitted, and its reservation settled, exactly once.

`Recorder.record` is the only place a call's outcome becomes a `CallRecord` (telemetry) and a settlement
(`Reservation.settle`) with everything the call was billed, or possibly billed, across all its attempts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from claude_kit.billing import CallBill
from claude_kit.calls import CallContext, ClaudeRequest, ClaudeResult
from claude_kit.context_window import Window
from claude_kit.errors import ClaudeError
from claude_kit.pricing import PriceTable
from claude_kit.reservation import Reservation
from claude_kit.retry import Attempts, error_type_of, to_claude_error
from claude_kit.telemetry import CallRecord, ratelimit_headroom


@dataclass(slots=True, eq=False)
class PreparedCall:
    """A request that passed the rules, with its worst case held; run it once with `*_prepared`."""

    request: ClaudeRequest
    ctx: CallContext
    window: Window
    reservation: Reservation


@dataclass(slots=True)
class Call:
    """One service call: the request after the kit's rules, and what happened to it so far."""

    prepared: PreparedCall
    attempts: Attempts
    started: float
    model: str
    bill: CallBill
    fallback_used: bool = False

    @property
    def request(self) -> ClaudeRequest:
        return self.prepared.request

    @property
    def ctx(self) -> CallContext:
        return self.prepared.ctx


class Recorder:
    def __init__(
        self,
        *,
        environment: str,
        prices: PriceTable,
        emit: Callable[[CallRecord], None],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._environment = environment
        self._prices = prices
        self._emit = emit
        self._clock = clock

    def failed(self, call: Call, exc: Exception) -> ClaudeError | None:
        """Record a call that produced no text; the typed error to raise instead of an SDK one (else None)."""
        error = to_claude_error(exc)
        self.record(
            call,
            error_type=error_type_of(exc),
            error_detail=str(error or exc),
            api_request_id=getattr(exc, "request_id", None),
        )
        if error is not None:
            error.ambiguous_attempts = call.bill.ambiguous_attempts
        return error

    def record(
        self,
        call: Call,
        *,
        message_id: str | None = None,
        stop_reason: str | None = None,
        ttft_ms: float | None = None,
        error_type: str | None = None,
        error_detail: str | None = None,
        api_request_id: str | None = None,
        streamed: bool = False,
    ) -> CallRecord:
        """Emit the call's one record and settle its reservation with everything it was (possibly) billed."""
        requests_remaining, tokens_remaining = ratelimit_headroom(call.attempts.headers)
        ctx, window, bill = call.ctx, call.prepared.window, call.bill
        reservation = call.prepared.reservation
        record = CallRecord(
            environment=self._environment,
            route=ctx.route,
            model=call.model,
            requested_model=call.request.model,
            usage=bill.usage(),
            latency_ms=self.elapsed_ms(call),
            fallback_used=call.fallback_used,
            ttft_ms=ttft_ms,
            stop_reason=stop_reason,
            retries=call.attempts.retries,
            throttles=call.attempts.throttles,
            error_type=error_type,
            error_detail=error_detail,
            cost_usd=bill.cost(self._prices),
            billed_attempts=len(bill.attempts),
            ambiguous_attempts=bill.ambiguous_attempts,
            possibly_billed_usd=bill.possibly_billed(reservation.worst_attempt).usd,
            estimated_output_tokens=bill.estimated_output_tokens,
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
        worst = reservation.worst_attempt
        reservation.settle(bill.charge(self._prices, worst), by_model=bill.by_model(self._prices, worst))
        return record

    def result(
        self,
        call: Call,
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
            billed_attempts=record.billed_attempts,
            ambiguous_attempts=record.ambiguous_attempts,
        )

    def elapsed_ms(self, call: Call) -> float:
        return (self._clock() - call.started) * 1000
