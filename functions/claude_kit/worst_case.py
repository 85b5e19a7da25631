"""The most one attempt of a call can be billed, before it is made: what a quota reserves.

Worst case = every input token at the highest rate it could be billed (a cache write when caching can happen,
the long-prompt tier when the prompt may cross it), tool definitions included, and the larger of `max_tokens`
and the thinking budget at the output rate, on the priciest model the call may use (primary or fallback).

Input tokens are bounded, not estimated: half a token per UTF-8 byte of text (Claude's tokenizer averages ~4
bytes a token for English, ~3 for code and CJK text), 1,600 per image. The bound is loose on purpose: a
reservation is held only while the call runs, and the real usage replaces it when the call is settled.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from claude_kit.calls import ClaudeRequest, Usage
from claude_kit.pricing import PriceTable

_BYTES_PER_TOKEN_BOUND = 2
_TOKENS_PER_IMAGE = 1_600
_TOKENS_PER_MESSAGE = 4


@dataclass(frozen=True, slots=True)
class Charge:
    """Money and tokens, held or spent, for one call (all its attempts) or one attempt."""

    usd: float = 0.0
    tokens: int = 0

    def __add__(self, other: Charge) -> Charge:
        return Charge(usd=self.usd + other.usd, tokens=self.tokens + other.tokens)

    def __mul__(self, times: int) -> Charge:
        return Charge(usd=self.usd * times, tokens=self.tokens * times)


def input_tokens_bound(request: ClaudeRequest) -> int:
    """An upper bound of the input tokens of `request`: system, messages and tool definitions."""
    tools = request.params.get("tools")
    tokens = _bound(request.system) + _bound(tools) + sum(_bound(m.get("content")) for m in request.messages)
    return math.ceil(tokens) + _TOKENS_PER_MESSAGE * len(request.messages)


def output_tokens_bound(request: ClaudeRequest) -> int:
    """`max_tokens`, or the thinking budget when it is larger (interleaved thinking may exceed max_tokens)."""
    thinking = request.params.get("thinking")
    budget = thinking.get("budget_tokens", 0) if isinstance(thinking, dict) else 0
    return max(request.max_tokens, int(budget or 0))


def worst_case_attempt(
    request: ClaudeRequest, *, models: Sequence[str], prices: PriceTable, caching: bool
) -> Charge:
    """The most one attempt of `request` can be billed, on whichever of `models` costs most.

    A model without a price is held at the dearest price in the table: an unknown price is never free."""
    input_tokens = input_tokens_bound(request)
    output_tokens = output_tokens_bound(request)
    shapes = [Usage(input_tokens=input_tokens, output_tokens=output_tokens)]
    marked = "cache_control" in json.dumps(
        [request.system, request.messages, request.params.get("tools")], default=str
    )
    if caching or marked:
        writes = Usage(cache_creation_input_tokens=input_tokens, output_tokens=output_tokens)
        shapes += [writes, Usage(**{**_fields(writes), "cache_creation_1h_input_tokens": input_tokens})]
    priced = [model if prices.lookup(model) is not None else None for model in models]
    candidates = [m for m in priced if m is not None] + (list(prices.models) if None in priced else [])
    costs = [
        cost for model in candidates for usage in shapes if (cost := prices.cost(model, usage)) is not None
    ]
    return Charge(usd=max(costs, default=0.0), tokens=input_tokens + output_tokens)


def _fields(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }


def _bound(content: Any) -> float:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content.encode()) / _BYTES_PER_TOKEN_BOUND
    if isinstance(content, list):
        return sum(_bound(block) for block in content)
    if isinstance(content, dict):
        match content.get("type"):
            case "text":
                return _bound(content.get("text", ""))
            case "image":
                return _TOKENS_PER_IMAGE
            case "tool_result":
                return _bound(content.get("content"))
    return len(json.dumps(content, separators=(",", ":"), default=str).encode()) / _BYTES_PER_TOKEN_BOUND
