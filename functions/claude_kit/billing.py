"""What one call was billed, attempt by attempt: every attempt that reached Claude counts, not just the last.

An attempt is billed when Anthropic generated anything for it: a whole message, or a stream once
`message_start` arrived (its input, and the output generated before it ended or failed). An attempt whose
outcome cannot be known (a read timeout on a whole message: the answer may have been generated and billed
without reaching us) is *ambiguous*: it is charged at its worst case as "possibly billed", separately from
the known cost, so quotas stay safe and alarms can include it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from claude_kit.calls import Usage
from claude_kit.pricing import PriceTable, estimate_cost
from claude_kit.worst_case import Charge


@dataclass(frozen=True, slots=True)
class BilledAttempt:
    model: str
    usage: Usage
    #: The output of a stream cut before it reported usage: estimated from what arrived.
    output_estimated: bool = False


@dataclass(slots=True)
class CallBill:
    attempts: list[BilledAttempt] = field(default_factory=list)
    #: The failures of the ambiguous attempts (the retry policy asks whether a failure is one of them).
    ambiguous_failures: list[BaseException] = field(default_factory=list)

    def billed(self, model: str, usage: Usage, *, output_estimated: bool = False) -> None:
        self.attempts.append(BilledAttempt(model, usage, output_estimated))

    def ambiguous(self, failure: BaseException) -> None:
        self.ambiguous_failures.append(failure)

    def was_ambiguous(self, failure: BaseException) -> bool:
        return any(failure is known for known in self.ambiguous_failures)

    @property
    def ambiguous_attempts(self) -> int:
        return len(self.ambiguous_failures)

    @property
    def estimated_output_tokens(self) -> int:
        """Of the output tokens, those estimated (streams cut before reporting their usage)."""
        return sum(a.usage.output_tokens for a in self.attempts if a.output_estimated)

    def usage(self) -> Usage:
        """Tokens of every billed attempt, summed."""
        total = Usage()
        for attempt in self.attempts:
            u = attempt.usage
            total = Usage(
                input_tokens=total.input_tokens + u.input_tokens,
                output_tokens=total.output_tokens + u.output_tokens,
                cache_creation_input_tokens=total.cache_creation_input_tokens + u.cache_creation_input_tokens,
                cache_read_input_tokens=total.cache_read_input_tokens + u.cache_read_input_tokens,
                cache_creation_1h_input_tokens=(
                    total.cache_creation_1h_input_tokens + u.cache_creation_1h_input_tokens
                ),
            )
        return total

    def cost(self, prices: PriceTable, *, batch: bool = False) -> float | None:
        """USD of the billed attempts, each at its own model's price; None when one has no price."""
        total = 0.0
        for attempt in self.attempts:
            cost = estimate_cost(attempt.model, attempt.usage, batch, table=prices)
            if cost is None:
                return None
            total += cost
        return round(total, 9)

    def by_model(self, prices: PriceTable, worst_attempt: Charge) -> dict[str, Charge]:
        """The known billed attempts' cost and tokens per model (an unpriced one at its worst case); the
        possibly billed ambiguous attempts are in `charge` only: no model can be named for them."""
        models: dict[str, Charge] = {}
        for attempt in self.attempts:
            cost = estimate_cost(attempt.model, attempt.usage, False, table=prices)
            usage = attempt.usage
            billed = Charge(
                usd=cost if cost is not None else worst_attempt.usd,
                tokens=usage.prompt_tokens + usage.output_tokens,
            )
            models[attempt.model] = models.get(attempt.model, Charge()) + billed
        return models

    def possibly_billed(self, worst_attempt: Charge) -> Charge:
        """The ambiguous attempts at their worst case."""
        return worst_attempt * self.ambiguous_attempts

    def charge(self, prices: PriceTable, worst_attempt: Charge) -> Charge:
        """What a quota is settled with: the known cost (the worst case where no price is known) and tokens,
        plus every ambiguous attempt at its worst case."""
        usage = self.usage()
        cost = self.cost(prices)
        known = Charge(
            usd=cost if cost is not None else worst_attempt.usd * max(len(self.attempts), 1),
            tokens=usage.prompt_tokens + usage.output_tokens,
        )
        return known + self.possibly_billed(worst_attempt)
