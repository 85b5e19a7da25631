"""Mark the parts of a request that repeat between calls so the API bills them at the cache-read price.

Two breakpoints at most are added: the system prompt once it reaches the model's minimum cacheable length,
and the end of the previous turns of a conversation (its stable prefix), so each new turn reads the history
from cache. The API allows four `cache_control` markers per request; the caller's own (tools, system,
messages) count first.
Whether it worked shows in the response's `cache_read_input_tokens`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from claude_kit.context_window import SystemPrompt, TokenCounter, estimate_tokens

MAX_BREAKPOINTS = 4
_EPHEMERAL = {"type": "ephemeral"}
# Blocks the API refuses a cache_control on.
_UNMARKABLE = frozenset({"thinking", "redacted_thinking"})


@dataclass(frozen=True, slots=True)
class CachePlan:
    system: SystemPrompt
    messages: list[dict[str, Any]]
    added: int


def add_cache_breakpoints(
    system: SystemPrompt,
    messages: Sequence[dict[str, Any]],
    *,
    min_cacheable_tokens: int,
    tools: Sequence[dict[str, Any]] | None = None,
    counter: TokenCounter = estimate_tokens,
) -> CachePlan:
    """Copies of `system` and `messages` with breakpoints added; the caller's objects are not modified."""
    budget = MAX_BREAKPOINTS - count_breakpoints(system, messages, tools)
    added = 0
    if budget > 0 and system and not _count(system) and counter(system, []) >= min_cacheable_tokens:
        system = _mark_last_block(_as_blocks(system))
        budget, added = budget - 1, added + 1

    new_messages = list(messages)
    if budget > 0 and len(messages) >= 2 and counter(system, messages[:-1]) >= min_cacheable_tokens:
        previous = messages[-2]
        blocks = _as_blocks(previous.get("content"))
        if blocks and not _count(blocks[-1]) and blocks[-1].get("type") not in _UNMARKABLE:
            new_messages[-2] = {**previous, "content": _mark_last_block(blocks)}
            added += 1
    return CachePlan(system=system, messages=new_messages, added=added)


def count_breakpoints(
    system: SystemPrompt,
    messages: Sequence[dict[str, Any]],
    tools: Sequence[dict[str, Any]] | None = None,
) -> int:
    return _count(system) + _count(list(messages)) + _count(list(tools or ()))


def _count(value: Any) -> int:
    """cache_control markers in a block, a message or a list of them (tool_result content included)."""
    if isinstance(value, list):
        return sum(_count(item) for item in value)
    if isinstance(value, dict):
        own = 1 if value.get("cache_control") else 0
        return own + _count(value.get("content"))
    return 0


def _as_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content or [])


def _mark_last_block(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*blocks[:-1], {**blocks[-1], "cache_control": dict(_EPHEMERAL)}]
