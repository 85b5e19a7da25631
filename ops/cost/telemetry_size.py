"""Bytes one Claude call writes to CloudWatch Logs, measured by running the kit's own `record_call`.

The EMF blob and the "Claude call" log line are what every call logs (claude_kit.telemetry); their size, not a
guess, sets the log ingestion cost per call. The record uses realistic ids and every optional field filled.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass

from claude_kit.calls import Usage
from claude_kit.observability import logger
from claude_kit.telemetry import CallRecord, record_call


@dataclass(frozen=True)
class TelemetrySize:
    bytes_per_call: int
    #: Metric names in one EMF blob; each also exists per {Environment, Model, Route} and per {Environment}.
    metrics_per_record: int
    #: What was written: the EMF blob and the log line.
    output: str = ""


def representative_record(*, model: str, batch: bool) -> CallRecord:
    return CallRecord(
        environment="prod",
        route="batch" if batch else "chat",
        model=model,
        requested_model=model,
        usage=Usage(input_tokens=2000, output_tokens=500, cache_read_input_tokens=1024),
        latency_ms=9321.4,
        ttft_ms=None if batch else 812.3,
        stop_reason="end_turn",
        cost_usd=0.009,
        user_id="0b6f6c2e-8d3a-4f55-9d0e-2a7c1e5b9f41",
        request_id="5f1c7e2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b",
        api_request_id="req_011CVxYz1234567890abcdEF",
        message_id="msg_01XyZ1234567890abcdefGHI",
        ratelimit_requests_remaining=3999,
        ratelimit_tokens_remaining=799000,
        streamed=not batch,
        batch=batch,
    )


def measure(*, model: str = "claude-sonnet-5-5", batch: bool = False) -> TelemetrySize:
    """Run `record_call` once, its output captured (stdout: the EMF blob; the logger's stream: the line)."""
    captured = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(captured)  # type: ignore[attr-defined]
    metrics_disabled = os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
    try:
        with contextlib.redirect_stdout(captured):
            record_call(representative_record(model=model, batch=batch))
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        if metrics_disabled is not None:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = metrics_disabled
    text = captured.getvalue()
    blob = next(line for line in text.splitlines() if line.startswith('{"_aws"'))
    metrics = blob.count('{"Name":')
    return TelemetrySize(bytes_per_call=len(text.encode()), metrics_per_record=metrics, output=text)
