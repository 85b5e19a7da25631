"""One streaming attempt's message, assembled from raw stream events, and what it has been billed so far.

The SDK's accumulator belongs to `messages.stream()`, which builds a model object per event (≈ 3× the cost of
`create(stream=True)` per delta); the relay reads raw events, so it folds them itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from claude_kit.calls import Usage
from claude_kit.context_window import estimate_text_tokens

if TYPE_CHECKING:
    from anthropic.types import RawMessageStreamEvent


@dataclass(slots=True)
class StreamState:
    message_id: str | None = None
    stop_reason: str | None = None
    complete: bool = False
    ttft_ms: float | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
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

    def apply(self, event: RawMessageStreamEvent) -> str | None:
        """Fold one event in; returns the text it carries, if any."""
        match event.type:
            case "content_block_delta":
                return self._apply_delta(event.index, event.delta)
            case "message_start":
                self.message_id = event.message.id
                self._usage = Usage.from_api(event.message.usage)
            case "content_block_start":
                self.blocks.append(event.content_block.to_dict())
            case "content_block_stop":
                if (parts := self._tool_json.pop(event.index, None)) is not None:
                    self.blocks[event.index]["input"] = json.loads("".join(parts) or "{}")
            case "message_delta":
                self.stop_reason = event.delta.stop_reason
                self._output_reported = True
                # Counts on message_delta are cumulative; absent ones keep their message_start value.
                reported = event.usage
                self._usage = Usage(
                    input_tokens=_first(reported.input_tokens, self._usage.input_tokens),
                    output_tokens=reported.output_tokens,
                    cache_creation_input_tokens=_first(
                        reported.cache_creation_input_tokens, self._usage.cache_creation_input_tokens
                    ),
                    cache_read_input_tokens=_first(
                        reported.cache_read_input_tokens, self._usage.cache_read_input_tokens
                    ),
                    cache_creation_1h_input_tokens=self._usage.cache_creation_1h_input_tokens,
                )
            case "message_stop":
                self.complete = True
        return None

    def _apply_delta(self, index: int, delta: Any) -> str | None:
        block = self.blocks[index]
        match delta.type:
            case "text_delta":
                block["text"] = block.get("text", "") + delta.text
                return str(delta.text)
            case "input_json_delta":
                self._tool_json.setdefault(index, []).append(delta.partial_json)
            case "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta.thinking
            case "signature_delta":
                block["signature"] = delta.signature
            case "citations_delta":
                block.setdefault("citations", []).append(delta.citation.to_dict())
        return None

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
        pieces = [block.get("text", "") + block.get("thinking", "") for block in self.blocks]
        pieces += [json.dumps(block["input"]) for block in self.blocks if block.get("input")]
        pieces += ["".join(parts) for parts in self._tool_json.values()]
        return sum(estimate_text_tokens(piece) for piece in pieces)


def _first(value: int | None, default: int) -> int:
    return default if value is None else value
