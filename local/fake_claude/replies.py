"""What the fake answers: a deterministic text per request, cut by stop sequences and max_tokens, with usage,
rendered as the Message body or as the server-sent events of a stream, in the real API's order."""

from __future__ import annotations

import hashlib
import json
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from local.fake_claude.prompt_cache import CacheUse
from local.fake_claude.protocol import MessagesRequest

#: One output token per word, keeping its leading whitespace so the pieces join back into the text.
_TOKEN = re.compile(r"\s*\S+")
_VOCABULARY = (
    "serverless",
    "lambda",
    "queue",
    "stream",
    "token",
    "cache",
    "latency",
    "budget",
    "retry",
    "backoff",
    "jitter",
    "context",
    "window",
    "prompt",
    "answer",
    "model",
    "batch",
    "result",
    "metric",
    "alarm",
    "cost",
    "secret",
    "gateway",
    "request",
    "response",
    "event",
    "usage",
    "limit",
    "guard",
    "deploy",
    "region",
    "function",
    "handler",
    "timeout",
    "partial",
    "fallback",
    "relay",
    "client",
    "server",
)

ServiceTier = Literal["standard", "priority", "batch"]


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def deterministic_text(request: MessagesRequest) -> str:
    """The same request always gets the same reply; a different one almost surely a different reply."""
    prompt = request.model_dump(
        mode="json", include={"model", "system", "messages", "tools"}, exclude_none=True
    )
    seed = hashlib.sha256(json.dumps(prompt, sort_keys=True).encode()).digest()
    rng = random.Random(seed)
    words = [rng.choice(_VOCABULARY) for _ in range(24 + seed[0] % 40)]
    return f"This is the fake Claude answering {_topic(request)}: {' '.join(words)}."


def _topic(request: MessagesRequest) -> str:
    last = request.messages[-1].content
    text = last if isinstance(last, str) else " ".join(getattr(block, "text", "") for block in last)
    return f"“{' '.join(text.split()[:8])}”" if text.strip() else "you"


def split_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Reply:
    message_id: str
    model: str
    pieces: tuple[str, ...]
    stop_reason: str
    stop_sequence: str | None
    cache: CacheUse
    service_tier: ServiceTier

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def output_tokens(self) -> int:
        return max(1, len(self.pieces))  # the real API never bills zero output tokens

    def usage(self, output_tokens: int | None = None) -> dict[str, Any]:
        return {
            "input_tokens": self.cache.input_tokens,
            "cache_creation_input_tokens": self.cache.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache.ephemeral_5m_input_tokens,
                "ephemeral_1h_input_tokens": self.cache.ephemeral_1h_input_tokens,
            },
            "output_tokens": self.output_tokens if output_tokens is None else output_tokens,
            "service_tier": self.service_tier,
        }

    def message(self) -> dict[str, Any]:
        """The non-streaming response body (also a batch item's `message`)."""
        return {
            **self._envelope(),
            "content": [{"type": "text", "text": self.text}],
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "usage": self.usage(),
        }

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The stream: usage with output 1 at the start, cumulative usage in message_delta, like the API."""
        yield (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    **self._envelope(),
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": self.usage(output_tokens=1),
                },
            },
        )
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        yield "ping", {"type": "ping"}
        for piece in self.pieces:
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
        yield "content_block_stop", {"type": "content_block_stop", "index": 0}
        usage = self.usage()
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": self.stop_sequence},
                "usage": {
                    key: usage[key]
                    for key in (
                        "input_tokens",
                        "cache_creation_input_tokens",
                        "cache_read_input_tokens",
                        "output_tokens",
                    )
                },
            },
        )
        yield "message_stop", {"type": "message_stop"}

    def _envelope(self) -> dict[str, Any]:
        return {"id": self.message_id, "type": "message", "role": "assistant", "model": self.model}


def compose_reply(
    request: MessagesRequest, *, text: str, cache: CacheUse, service_tier: ServiceTier
) -> Reply:
    """Cut `text` at the first stop sequence, then at max_tokens, and say which one stopped it."""
    stop_reason, stop_sequence = "end_turn", None
    found = [(text.find(seq), seq) for seq in request.stop_sequences or () if seq and seq in text]
    if found:
        position, stop_sequence = min(found)
        text, stop_reason = text[:position], "stop_sequence"
    pieces = split_tokens(text)
    if len(pieces) > request.max_tokens:
        pieces, stop_reason, stop_sequence = pieces[: request.max_tokens], "max_tokens", None
    return Reply(
        message_id=new_id("msg_"),
        model=request.model,
        pieces=tuple(pieces),
        stop_reason=stop_reason,
        stop_sequence=stop_sequence,
        cache=cache,
        service_tier=service_tier,
    )
