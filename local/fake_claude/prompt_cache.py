"""Input token estimates and a prompt cache that behaves like Anthropic's, so cache metrics can be tested.

A request is a sequence of blocks in the order the API caches them (tools, system, messages). A block carrying
`cache_control` is a breakpoint: the prefix up to it is written to the cache if it is long enough, and a later
request whose prefix matches reads it, for the breakpoint's TTL (5 minutes or 1 hour, refreshed on each read).
Like the real API, a lookup also tries the 20 block boundaries before each breakpoint, so a conversation whose
breakpoint moves forward every turn still reads the previous turn's prefix.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from local.fake_claude.protocol import CacheControl, CountTokensRequest

_TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
_LOOKBACK_BLOCKS = 20
_CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """About four characters a token, like English text under Claude's tokenizer; never zero."""
    return max(1, math.ceil(len(text) / _CHARS_PER_TOKEN))


@dataclass(frozen=True)
class PromptBlock:
    content: str  # canonical JSON of the block without its cache_control: what the cache key covers
    tokens: int
    cache_control: CacheControl | None


def prompt_blocks(request: CountTokensRequest) -> list[PromptBlock]:
    """Flatten tools, system and messages into the block sequence the cache sees."""
    blocks = [
        _block(tool.model_dump(exclude={"cache_control"}), tool.cache_control) for tool in request.tools or ()
    ]
    if isinstance(request.system, str):
        blocks.append(_block({"type": "text", "text": request.system}, None))
    else:
        blocks.extend(
            _block(b.model_dump(exclude={"cache_control"}, exclude_none=True), b.cache_control)
            for b in request.system or ()
        )
    for message in request.messages:
        if isinstance(message.content, str):
            blocks.append(_block({"role": message.role, "type": "text", "text": message.content}, None))
        else:
            blocks.extend(
                _block(
                    {"role": message.role, **b.model_dump(exclude={"cache_control"}, exclude_none=True)},
                    b.cache_control,
                )
                for b in message.content
            )
    if request.cache_control is not None:
        blocks[-1] = replace(blocks[-1], cache_control=request.cache_control)
    return blocks


def _block(fields: dict[str, Any], cache_control: CacheControl | None) -> PromptBlock:
    content = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return PromptBlock(
        content=content,
        tokens=estimate_tokens(fields["text"] if fields.get("type") == "text" else content),
        cache_control=cache_control,
    )


@dataclass(frozen=True)
class CacheUse:
    """How a request's input tokens split between cache reads, cache writes (per TTL) and uncached input."""

    input_tokens: int
    cache_read_input_tokens: int = 0
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.ephemeral_5m_input_tokens + self.ephemeral_1h_input_tokens

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens


@dataclass
class _Entry:
    expires_at: float
    ttl_s: float


class PromptCache:
    """Prefix hashes → expiry. Not thread-safe: the fake calls it under its state lock."""

    def __init__(self, min_tokens: int) -> None:
        self.min_tokens = min_tokens
        self._entries: dict[str, _Entry] = {}

    def clear(self) -> None:
        self._entries.clear()

    def use(self, model: str, blocks: Sequence[PromptBlock], now: float) -> CacheUse:
        """Read the longest cached prefix, write the prefixes at later breakpoints, report the token split."""
        cumulative: list[int] = []
        keys: list[str] = []
        digest = hashlib.sha256(model.encode())
        for block in blocks:
            digest.update(block.content.encode())
            keys.append(digest.copy().hexdigest())
            cumulative.append((cumulative[-1] if cumulative else 0) + block.tokens)
        total = cumulative[-1] if cumulative else 0
        breakpoints = [i for i, block in enumerate(blocks) if block.cache_control is not None]

        hit = self._longest_hit(keys, breakpoints, now)
        read = cumulative[hit] if hit is not None else 0
        written = {"5m": 0, "1h": 0}
        covered = read
        for index in breakpoints:
            if (hit is not None and index <= hit) or cumulative[index] < self.min_tokens:
                continue
            control = blocks[index].cache_control
            assert control is not None
            ttl_s = _TTL_SECONDS[control.ttl]
            self._entries[keys[index]] = _Entry(expires_at=now + ttl_s, ttl_s=ttl_s)
            written[control.ttl] += cumulative[index] - covered
            covered = cumulative[index]
        return CacheUse(
            input_tokens=total - covered,
            cache_read_input_tokens=read,
            ephemeral_5m_input_tokens=written["5m"],
            ephemeral_1h_input_tokens=written["1h"],
        )

    def _longest_hit(self, keys: Sequence[str], breakpoints: Sequence[int], now: float) -> int | None:
        for breakpoint in sorted(breakpoints, reverse=True):
            for index in range(breakpoint, max(-1, breakpoint - _LOOKBACK_BLOCKS), -1):
                entry = self._entries.get(keys[index])
                if entry is not None and entry.expires_at > now:
                    entry.expires_at = now + entry.ttl_s  # a read refreshes the TTL
                    return index
        return None
