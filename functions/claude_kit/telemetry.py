"""One record per Claude call, success or failure: one EMF metrics blob and one structured log line.

Each call gets its own `EphemeralMetrics`, flushed at once, so records are neither lost nor merged whether
the caller is a Lambda handler (with or without `@metrics.log_metrics`) or the long-running chat app. Metric
names, units and dimensions are documented in docs/metrics.md; alarms and the dashboard depend on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from claude_kit import contract
from claude_kit.calls import Usage
from claude_kit.contract import Metric
from claude_kit.observability import logger, metrics_namespace
from claude_kit.settings import get_settings

CLIENT_DISCONNECTED = "client_disconnected"


@dataclass(frozen=True, slots=True)
class CallRecord:
    environment: str
    route: str
    #: The model that answered: the fallback when one was used.
    model: str
    requested_model: str
    usage: Usage
    latency_ms: float
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    fallback_used: bool = False
    #: Streams only: time until the first text was handed on.
    ttft_ms: float | None = None
    stop_reason: str | None = None
    retries: int = 0
    #: 429 responses seen, including those a retry recovered from.
    throttles: int = 0
    error_type: str | None = None
    #: The failure as the API described it: for the log line only, never shown to users.
    error_detail: str | None = None
    cost_usd: float | None = None
    #: Attempts Anthropic billed; `usage` and `cost_usd` are their sum.
    billed_attempts: int = 1
    #: Attempts that may have been billed without an answer, charged at their worst case below.
    ambiguous_attempts: int = 0
    possibly_billed_usd: float = 0.0
    #: Of `usage.output_tokens`, those estimated from what arrived (streams cut before reporting usage).
    estimated_output_tokens: int = 0
    user_id: str | None = None
    request_id: str | None = None
    api_request_id: str | None = None
    message_id: str | None = None
    context_dropped_turns: int = 0
    context_dropped_tokens: int = 0
    ratelimit_requests_remaining: int | None = None
    ratelimit_tokens_remaining: int | None = None
    streamed: bool = False
    batch: bool = False

    @property
    def cache_hit(self) -> bool:
        return self.usage.cache_read_input_tokens > 0

    @property
    def failed(self) -> bool:
        """A user closing a stream early is not a Claude failure; everything else with an error type is."""
        return self.error_type is not None and self.error_type != CLIENT_DISCONNECTED

    def log_fields(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "route": self.route,
            "model": self.model,
            "requested_model": self.requested_model,
            "fallback_used": self.fallback_used,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "cache_creation_input_tokens": self.usage.cache_creation_input_tokens,
            "cache_creation_1h_input_tokens": self.usage.cache_creation_1h_input_tokens,
            "cache_read_input_tokens": self.usage.cache_read_input_tokens,
            "cache_hit": self.cache_hit,
            "cost_usd": self.cost_usd,
            "billed_attempts": self.billed_attempts,
            "ambiguous_attempts": self.ambiguous_attempts,
            "possibly_billed_usd": self.possibly_billed_usd,
            "estimated_output_tokens": self.estimated_output_tokens,
            "latency_ms": round(self.latency_ms, 1),
            "ttft_ms": None if self.ttft_ms is None else round(self.ttft_ms, 1),
            "stop_reason": self.stop_reason,
            "retries": self.retries,
            "throttles": self.throttles,
            "error_type": self.error_type,
            "error_detail": self.error_detail,
            "user_id": self.user_id,
            "request_id": self.request_id,
            "api_request_id": self.api_request_id,
            "message_id": self.message_id,
            "context_dropped_turns": self.context_dropped_turns,
            "context_dropped_tokens": self.context_dropped_tokens,
            "ratelimit_requests_remaining": self.ratelimit_requests_remaining,
            "ratelimit_tokens_remaining": self.ratelimit_tokens_remaining,
            "streamed": self.streamed,
            "batch": self.batch,
        }


def ratelimit_headroom(headers: Mapping[str, str]) -> tuple[int | None, int | None]:
    """Requests and tokens left in the current rate-limit window, from `anthropic-ratelimit-*` headers."""
    return (
        _int_or_none(headers.get("anthropic-ratelimit-requests-remaining")),
        _int_or_none(headers.get("anthropic-ratelimit-tokens-remaining")),
    )


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def record_call(record: CallRecord) -> None:
    blob = _new_blob(record.environment)
    blob.add_dimension(name=contract.MODEL_DIMENSION, value=record.model)
    blob.add_dimension(name=contract.ROUTE_DIMENSION, value=record.route)
    # The same values again under {Environment} alone, which is what alarms and budgets watch.
    blob.add_dimensions(**{contract.ENVIRONMENT_DIMENSION: record.environment})
    blob.set_timestamp(record.timestamp)

    usage = record.usage
    counts = {
        Metric.CALLS: 1,
        Metric.ERRORS: int(record.failed),
        Metric.THROTTLES: record.throttles,
        Metric.RETRIES: record.retries,
        Metric.FALLBACKS: int(record.fallback_used),
        Metric.INPUT_TOKENS: usage.input_tokens,
        Metric.OUTPUT_TOKENS: usage.output_tokens,
        Metric.CACHE_CREATION_INPUT_TOKENS: usage.cache_creation_input_tokens,
        Metric.CACHE_READ_INPUT_TOKENS: usage.cache_read_input_tokens,
        Metric.UNKNOWN_MODEL_COST: int(record.cost_usd is None),
        Metric.BILLED_ATTEMPTS: record.billed_attempts,
        Metric.AMBIGUOUS_ATTEMPTS: record.ambiguous_attempts,
        Metric.RATE_LIMIT_REQUESTS_REMAINING: record.ratelimit_requests_remaining,
        Metric.RATE_LIMIT_TOKENS_REMAINING: record.ratelimit_tokens_remaining,
    }
    for name, value in counts.items():
        if value is not None:
            blob.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if record.cost_usd is not None:
        blob.add_metric(name=Metric.COST_USD, unit=MetricUnit.NoUnit, value=record.cost_usd)
    if record.possibly_billed_usd:
        # Kept apart from CostUSD: alarms can add it (a safe upper bound) without it blurring the known cost.
        blob.add_metric(
            name=Metric.POSSIBLY_BILLED_COST_USD, unit=MetricUnit.NoUnit, value=record.possibly_billed_usd
        )
    # A batch result's latency is its queueing time (hours): it would drown the live calls' percentiles.
    if not record.batch:
        blob.add_metric(name=Metric.LATENCY_MS, unit=MetricUnit.Milliseconds, value=record.latency_ms)
    if record.ttft_ms is not None:
        blob.add_metric(name=Metric.TTFT_MS, unit=MetricUnit.Milliseconds, value=record.ttft_ms)

    # High-cardinality values are EMF properties: searchable in Logs Insights, never dimensions.
    for key in ("user_id", "request_id", "api_request_id", "message_id"):
        if (value := getattr(record, key)) is not None:
            blob.add_metadata(key=key, value=value)
    blob.flush_metrics()
    logger.info("Claude call", extra=record.log_fields())


def record_count(name: str, value: float = 1) -> None:
    """A kit event counter (BatchItemsSubmitted, SpendGuardRejections …) under {Environment}, at once."""
    blob = _new_blob(get_settings().env_name)
    blob.add_metric(name=name, unit=MetricUnit.Count, value=value)
    blob.flush_metrics()


def _new_blob(environment: str) -> EphemeralMetrics:
    # service="" keeps Powertools from adding a `service` dimension: the dimension sets must stay exactly the
    # documented ones or CloudWatch files the values under a different metric than alarms watch.
    blob = EphemeralMetrics(namespace=metrics_namespace(), service="")
    blob.add_dimension(name=contract.ENVIRONMENT_DIMENSION, value=environment)
    return blob
