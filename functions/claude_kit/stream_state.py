"""One streaming attempt's message, assembled from raw stream events, and what it has been billed so far.

The SDK's accumulator belongs to `messages.stream()`, which builds a model object per event (≈ 3× the cost of
`create(stream=True)` per delta); the relay reads the events as JSON dicts (`claude_kit.sse`) and folds them
here. Text arrives in pieces: they are kept as lists and joined once, when the blocks are asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from claude_kit.calls import Usage
from claude_kit.context_window import estimate_text_tokens
from claude_kit.sse import StreamEvent


@dataclass(slots=True)
class StreamState:
    message_id: str | None = None
    stop_reason: str | None = None
    complete: bool = False
    ttft_ms: float | None = None
    _blocks: list[dict[str, Any]] = field(default_factory=list)
    #: Per block index: text or thinking pieces received so far (joined into the block on demand).
    _pieces: dict[tuple[int, str], list[str]] = field(default_factory=dict)
    _usage: Usage = field(default_factory=Usage)
    _output_reported: bool = False
    _tool_json: dict[int, list[str]] = field(default_factory=dict)

    @property
    def started(self) -> bool:
        """`message_start` arrived: from here on the attempt is billed (its input at least)."""
        return self.message_id is not None

    @property
    def output_estimated(self) -> bool:
        """The stream ended before `message_delta` reported its output: `usage()` estimates it."""
        return self.started and not self._output_reported

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """The content blocks so far, as the API's JSON has them."""
        blocks = [dict(block) for block in self._blocks]
        for (index, name), pieces in self._pieces.items():
            blocks[index][name] = blocks[index].get(name, "") + "".join(pieces)
        return blocks

    def apply(self, event: StreamEvent) -> str | None:
        """Fold one event in; returns the text it carries, if any."""
        kind = event["type"]
        if kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":  # the hot path: one per text piece
                text: str = delta["text"]
                self._pieces.setdefault((event["index"], "text"), []).append(text)
                return text
            self._apply_delta(event["index"], delta)
        elif kind == "message_start":
            message = event["message"]
            self.message_id = message["id"]
            self._usage = Usage.from_json(message.get("usage") or {})
        elif kind == "content_block_start":
            self._blocks.append(dict(event["content_block"]))
        elif kind == "content_block_stop":
            if (parts := self._tool_json.pop(event["index"], None)) is not None:
                self._blocks[event["index"]]["input"] = json.loads("".join(parts) or "{}")
        elif kind == "message_delta":
            self.stop_reason = event["delta"].get("stop_reason")
            self._output_reported = True
            # Counts on message_delta are cumulative; absent ones keep their message_start value.
            reported = event.get("usage") or {}
            self._usage = Usage(
                input_tokens=_first(reported.get("input_tokens"), self._usage.input_tokens),
                output_tokens=reported.get("output_tokens") or 0,
                cache_creation_input_tokens=_first(
                    reported.get("cache_creation_input_tokens"), self._usage.cache_creation_input_tokens
                ),
                cache_read_input_tokens=_first(
                    reported.get("cache_read_input_tokens"), self._usage.cache_read_input_tokens
                ),
                cache_creation_1h_input_tokens=self._usage.cache_creation_1h_input_tokens,
            )
        elif kind == "message_stop":
            self.complete = True
        return None

    def _apply_delta(self, index: int, delta: dict[str, Any]) -> None:
        match delta["type"]:
            case "input_json_delta":
                self._tool_json.setdefault(index, []).append(delta["partial_json"])
            case "thinking_delta":
                self._pieces.setdefault((index, "thinking"), []).append(delta["thinking"])
            case "signature_delta":
                self._blocks[index]["signature"] = delta["signature"]
            case "citations_delta":
                self._blocks[index].setdefault("citations", []).append(delta["citation"])

    def handed_on(self, elapsed_ms: float) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = elapsed_ms

    def usage(self) -> Usage:
        """Reported usage; a stream cut before message_delta bills what it generated so far, estimated."""
        if self._output_reported:
            return self._usage
        return Usage(
            input_tokens=self._usage.input_tokens,
            output_tokens=max(self._usage.output_tokens, self.generated_tokens_estimate()),
            cache_creation_input_tokens=self._usage.cache_creation_input_tokens,
            cache_read_input_tokens=self._usage.cache_read_input_tokens,
            cache_creation_1h_input_tokens=self._usage.cache_creation_1h_input_tokens,
        )

    def generated_tokens_estimate(self) -> int:
        """Output generated so far: text, thinking and tool-call JSON (complete or still arriving)."""
        blocks = self.blocks
        pieces = [block.get("text", "") + block.get("thinking", "") for block in blocks]
        pieces += [json.dumps(block["input"]) for block in blocks if block.get("input")]
        pieces += ["".join(parts) for parts in self._tool_json.values()]
        return sum(estimate_text_tokens(piece) for piece in pieces)


def _first(value: int | None, default: int) -> int:
    return default if value is None else value
