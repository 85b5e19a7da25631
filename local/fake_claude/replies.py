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

from local.fake_claude.ledger import BilledCall, Outcome
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
    #: Extended thinking, one token a piece, generated (and billed as output) before the text.
    thinking: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def output_tokens(self) -> int:
        return max(1, len(self.thinking) + len(self.pieces))  # the real API never bills zero output tokens

    def billed(
        self,
        *,
        request_id: str,
        at: float,
        stream: bool,
        outcome: Outcome,
        thinking_tokens: int | None = None,
        text_tokens: int | None = None,
    ) -> BilledCall:
        """The ledger entry for this reply; a stream that ended early passes the tokens it generated."""
        thinking = len(self.thinking) if thinking_tokens is None else thinking_tokens
        text = len(self.pieces) if text_tokens is None else text_tokens
        return BilledCall(
            request_id=request_id,
            message_id=self.message_id,
            model=self.model,
            service_tier=self.service_tier,
            at=at,
            stream=stream,
            outcome=outcome,
            input_tokens=self.cache.input_tokens,
            cache_creation_5m_input_tokens=self.cache.ephemeral_5m_input_tokens,
            cache_creation_1h_input_tokens=self.cache.ephemeral_1h_input_tokens,
            cache_read_input_tokens=self.cache.cache_read_input_tokens,
            output_tokens=max(1, thinking + text),
            thinking_tokens=thinking,
        )

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
        thinking = [self._thinking_block(signed=True)] if self.thinking else []
        return {
            **self._envelope(),
            "content": [*thinking, {"type": "text", "text": self.text}],
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
        index = 0
        if self.thinking:
            yield _block_start(index, self._thinking_block(signed=False))
            yield "ping", {"type": "ping"}
            for piece in self.thinking:
                yield _block_delta(index, {"type": "thinking_delta", "thinking": piece})
            yield _block_delta(index, {"type": "signature_delta", "signature": self._signature()})
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
            index += 1
        yield _block_start(index, {"type": "text", "text": ""})
        if not self.thinking:
            yield "ping", {"type": "ping"}
        for piece in self.pieces:
            yield _block_delta(index, {"type": "text_delta", "text": piece})
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
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

    def _thinking_block(self, *, signed: bool) -> dict[str, Any]:
        thinking = "".join(self.thinking) if signed else ""
        return {"type": "thinking", "thinking": thinking, "signature": self._signature() if signed else ""}

    def _signature(self) -> str:
        return hashlib.sha256(("".join(self.thinking) + self.message_id).encode()).hexdigest()


def _block_start(index: int, block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}


def _block_delta(index: int, delta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}


def is_token_delta(data: dict[str, Any]) -> Literal["thinking", "text"] | None:
    """Which output token a stream event carries (one token a delta in the fake), if any."""
    if data.get("type") != "content_block_delta":
        return None
    match data["delta"]["type"]:
        case "thinking_delta":
            return "thinking"
        case "text_delta":
            return "text"
    return None


def deterministic_thinking(request: MessagesRequest, tokens: int) -> str:
    """`tokens` words of reasoning, the same for the same request."""
    seed = hashlib.sha256(deterministic_text(request).encode()).digest()
    rng = random.Random(seed)
    return " ".join(rng.choice(_VOCABULARY) for _ in range(tokens))


def compose_reply(
    request: MessagesRequest,
    *,
    text: str,
    cache: CacheUse,
    service_tier: ServiceTier,
    thinking: str = "",
) -> Reply:
    """Cut `text` at the first stop sequence, then at max_tokens (thinking counts against it), and say which
    one stopped it."""
    stop_reason, stop_sequence = "end_turn", None
    found = [(text.find(seq), seq) for seq in request.stop_sequences or () if seq and seq in text]
    if found:
        position, stop_sequence = min(found)
        text, stop_reason = text[:position], "stop_sequence"
    thought = split_tokens(thinking)[: request.max_tokens]
    pieces = split_tokens(text)
    room = request.max_tokens - len(thought)
    if len(pieces) > room:
        pieces, stop_reason, stop_sequence = pieces[: max(room, 0)], "max_tokens", None
    return Reply(
        message_id=new_id("msg_"),
        model=request.model,
        pieces=tuple(pieces),
        stop_reason=stop_reason,
        stop_sequence=stop_sequence,
        cache=cache,
        service_tier=service_tier,
        thinking=tuple(thought),
    )
