"""Trim a conversation to what should be sent: the last N turns within a token budget, oldest dropped first.

A turn is one message. The window always starts at a user message that is not a tool result, so roles still
alternate from a user turn and a tool_use is never separated from its tool_result; the system prompt and the
newest user turn are always kept, even when they alone exceed the budget (the API then says so).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

SystemPrompt = str | list[dict[str, Any]] | None
TokenCounter = Callable[[SystemPrompt, Sequence[dict[str, Any]]], int]

# Pessimistic on purpose (English averages ~4 characters a token): trimming early is cheaper than a 400.
_CHARS_PER_TOKEN = 3.5
_TOKENS_PER_MESSAGE = 4
# An image costs about (width × height) / 750 tokens; the API scales large images down to about this.
_TOKENS_PER_IMAGE = 1_600


def estimate_tokens(system: SystemPrompt, messages: Sequence[dict[str, Any]]) -> int:
    """A fast local estimate of the input tokens of `system` + `messages`, no API call."""
    tokens = _content_tokens(system) + sum(_content_tokens(message.get("content")) for message in messages)
    return math.ceil(tokens) + _TOKENS_PER_MESSAGE * len(messages)


def estimate_text_tokens(text: str) -> int:
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


def _content_tokens(content: Any) -> float:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content) / _CHARS_PER_TOKEN
    if isinstance(content, list):
        return sum(_content_tokens(block) for block in content)
    match content.get("type"):
        case "text":
            return len(content.get("text", "")) / _CHARS_PER_TOKEN
        case "image":
            return _TOKENS_PER_IMAGE
        case "tool_result":
            return _content_tokens(content.get("content"))
        case _:
            return len(json.dumps(content, separators=(",", ":"))) / _CHARS_PER_TOKEN


@dataclass(frozen=True, slots=True)
class Window:
    system: SystemPrompt
    messages: list[dict[str, Any]]
    dropped_turns: int
    dropped_tokens: int
    #: Input tokens of the window as counted (estimated unless an API counter was given).
    tokens: int
    #: False when even the newest user turn alone is over `max_turns` or `max_tokens`.
    fits: bool


def fit_context(
    system: SystemPrompt,
    messages: Sequence[dict[str, Any]],
    max_turns: int,
    max_tokens: int,
    *,
    counter: TokenCounter = estimate_tokens,
) -> Window:
    """The longest suffix of `messages` within both limits that starts at a plain user turn.

    `counter` may be the API's count_tokens; it is called O(log n) times (binary search over the cut points).
    """
    cuts = [index for index, message in enumerate(messages) if _starts_turn(message)] or [0]

    @cache
    def tokens_from(cut: int) -> int:
        return counter(system, messages[cut:])

    total = tokens_from(0)
    # Cut points leaving at most max_turns messages; the newest is always a candidate.
    candidates = [cut for cut in cuts if len(messages) - cut <= max_turns] or cuts[-1:]
    low, high = 0, 0 if tokens_from(candidates[0]) <= max_tokens else len(candidates) - 1
    while low < high:  # binary search for the first candidate (the longest window) whose tokens fit
        middle = (low + high) // 2
        if tokens_from(candidates[middle]) <= max_tokens:
            high = middle
        else:
            low = middle + 1
    cut = candidates[low]
    tokens = tokens_from(cut)
    fits = tokens <= max_tokens and len(messages) - cut <= max_turns
    return Window(
        system,
        list(messages[cut:]),
        dropped_turns=cut,
        dropped_tokens=total - tokens,
        tokens=tokens,
        fits=fits,
    )


def _starts_turn(message: dict[str, Any]) -> bool:
    """A user message that answers no tool_use, so the window may begin with it."""
    if message.get("role") != "user":
        return False
    content = message.get("content")
    return not (isinstance(content, list) and any(block.get("type") == "tool_result" for block in content))
