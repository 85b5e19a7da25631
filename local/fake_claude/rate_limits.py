"""The `anthropic-ratelimit-*` headers: per-minute use against configured limits, so limit metrics move."""

from __future__ import annotations

import math
from dataclasses import dataclass

from local.fake_claude.batches import rfc3339
from local.fake_claude.config import FakeClaudeConfig

_WINDOW_S = 60.0


@dataclass
class RateLimitWindow:
    """Counts in the current fixed one-minute window. Not thread-safe: used under the fake's state lock."""

    window: int = -1
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def record(self, now: float, *, requests: int = 0, input_tokens: int = 0, output_tokens: int = 0) -> None:
        self._roll(now)
        self.requests += requests
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens

    def headers(self, now: float, config: FakeClaudeConfig, *, exhausted: bool = False) -> dict[str, str]:
        """`exhausted` reports no requests left, as the API does on the 429 it answers."""
        self._roll(now)
        reset = rfc3339((self.window + 1) * _WINDOW_S)
        limits = {
            "requests": (config.requests_per_minute, self.requests),
            "tokens": (
                config.input_tokens_per_minute + config.output_tokens_per_minute,
                self.input_tokens + self.output_tokens,
            ),
            "input-tokens": (config.input_tokens_per_minute, self.input_tokens),
            "output-tokens": (config.output_tokens_per_minute, self.output_tokens),
        }
        headers: dict[str, str] = {}
        for name, (limit, used) in limits.items():
            remaining = 0 if name == "requests" and exhausted else max(0, limit - used)
            headers[f"anthropic-ratelimit-{name}-limit"] = str(limit)
            headers[f"anthropic-ratelimit-{name}-remaining"] = str(remaining)
            headers[f"anthropic-ratelimit-{name}-reset"] = reset
        return headers

    def _roll(self, now: float) -> None:
        window = math.floor(now / _WINDOW_S)
        if window != self.window:
            self.window, self.requests, self.input_tokens, self.output_tokens = window, 0, 0, 0
