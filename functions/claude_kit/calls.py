"""The values that cross the runtime's boundary: what a caller asks for, gets back and streams."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class CallContext:
    """Who is calling and why: the route and user become telemetry, the deadline bounds retry sleeps.

    One object stands for one call (guards hold per-call state keyed by it), so equality is identity.
    """

    route: str
    user_id: str | None = None
    request_id: str | None = None
    #: Milliseconds left before the caller must answer (a Lambda context's `get_remaining_time_in_millis`).
    remaining_time_ms: Callable[[], int] | None = None


@dataclass(frozen=True, slots=True)
class ClaudeRequest:
    """One Messages API request; `params` (temperature, stop_sequences, tools, metadata …) pass through."""

    model: str
    max_tokens: int
    messages: list[dict[str, Any]]
    system: str | list[dict[str, Any]] | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens billed for one call; `cache_creation_1h_input_tokens`: the cache writes with a 1-hour TTL."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        """Everything the model read, which is what long-context price tiers are decided on."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    @classmethod
    def from_json(cls, usage: dict[str, Any]) -> Usage:
        """From a usage object as the stream's JSON carries it (absent or null counts are 0)."""
        split = usage.get("cache_creation") or {}
        return cls(
            input_tokens=usage.get("input_tokens") or 0,
            output_tokens=usage.get("output_tokens") or 0,
            cache_creation_input_tokens=usage.get("cache_creation_input_tokens") or 0,
            cache_read_input_tokens=usage.get("cache_read_input_tokens") or 0,
            cache_creation_1h_input_tokens=split.get("ephemeral_1h_input_tokens") or 0,
        )

    @classmethod
    def from_api(cls, usage: Any) -> Usage:
        """From the SDK's `Usage` (a message, a stream's message_start, or a batch result)."""
        split = getattr(usage, "cache_creation", None)
        return cls(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_input_tokens=usage.cache_read_input_tokens or 0,
            cache_creation_1h_input_tokens=(split.ephemeral_1h_input_tokens or 0) if split is not None else 0,
        )


@dataclass(frozen=True, slots=True)
class ClaudeResult:
    """A finished (or, with `partial`, interrupted) call; `request_id` is Anthropic's, for support tickets."""

    message_id: str | None
    model: str
    text: str
    content: list[dict[str, Any]]
    stop_reason: str | None
    usage: Usage
    cost_usd: float | None
    latency_ms: float
    ttft_ms: float | None
    retries: int
    fallback_used: bool
    request_id: str | None
    partial: bool = False
    #: Attempts Anthropic billed (a retried stream that failed after `message_start` counts too).
    billed_attempts: int = 1
    #: Attempts that may have been billed without an answer (see claude_kit.billing).
    ambiguous_attempts: int = 0


@dataclass(frozen=True, slots=True)
class TextDelta:
    """The text deltas that arrived together (one network read), in order; never empty."""

    texts: list[str]

    @property
    def text(self) -> str:
        return "".join(self.texts)


@dataclass(frozen=True, slots=True)
class StreamEnd:
    result: ClaudeResult
