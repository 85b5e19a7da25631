"""What the fake billed: one entry per response that generated anything, as Anthropic's bill would count it.

This is the ground truth the kit's money figures are tested against (usage recorded, quota settled, cost
alarms fed) and what the fake's Usage & Cost report serves. The rules follow the real API's:

- a whole message is billed in full once it is generated, even if the client has gone (`abandoned`);
- a stream is billed once `message_start` went out: all of its input, and the output tokens generated until it
  ended, was cut, failed with an `error` event or lost its client (never fewer than the 1 that `message_start`
  reports);
- a request refused before generation (4xx, 429, 529, a stall before the response) is not billed;
- a Message Batch item is billed when the batch ends, at the batch tier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Outcome = Literal["complete", "cut", "error_event", "client_gone", "abandoned"]


@dataclass(frozen=True, slots=True)
class BilledCall:
    request_id: str
    message_id: str
    model: str
    service_tier: str
    #: Seconds since the epoch on the fake's clock.
    at: float
    stream: bool
    outcome: Outcome
    input_tokens: int
    cache_creation_5m_input_tokens: int
    cache_creation_1h_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    #: Of `output_tokens`, how many were thinking.
    thinking_tokens: int = 0

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.cache_creation_5m_input_tokens + self.cache_creation_1h_input_tokens

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "cache_creation_input_tokens": self.cache_creation_input_tokens}


@dataclass(frozen=True, slots=True)
class BilledTotals:
    """Sums over ledger entries, in the kit's `Usage` terms."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def of(cls, entries: list[BilledCall]) -> BilledTotals:
        return cls(
            calls=len(entries),
            input_tokens=sum(e.input_tokens for e in entries),
            output_tokens=sum(e.output_tokens for e in entries),
            cache_creation_input_tokens=sum(e.cache_creation_input_tokens for e in entries),
            cache_creation_1h_input_tokens=sum(e.cache_creation_1h_input_tokens for e in entries),
            cache_read_input_tokens=sum(e.cache_read_input_tokens for e in entries),
        )
